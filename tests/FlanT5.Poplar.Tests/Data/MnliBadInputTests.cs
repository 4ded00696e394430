using System.Text;
using FlanT5.Poplar.Data;
using Parquet;
using Parquet.Schema;

namespace FlanT5.Poplar.Tests.Data;

/// <summary>Malformed MNLI files give errors that name the file and the line or row, or are counted when skipped.</summary>
public class MnliBadInputTests
{
    private string _dir = "";

    private const string GlueHeader = "index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label";

    [SetUp]
    public void SetUp() => _dir = DataFixtures.TempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text) => WriteBytes(name, Encoding.UTF8.GetBytes(text));

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string GlueRow(int i, string premise, string hypothesis, string label) =>
        $"{i}\t{100 + i}\t{100 + i}e\tfiction\t{premise}\t{hypothesis}\t{label}\t{label}";

    [Test]
    public void GlueMissingColumnNamesColumnAndFile()
    {
        string path = Write("train.tsv", "index\tsentence1\tlabel1\tgold_label\n0\tA man.\tentailment\tentailment\n");
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("'sentence2'").And.Contain("line 1"));
    }

    [Test]
    public void GlueUnknownLabelNamesLine()
    {
        string path = Write("train.tsv", string.Join("\n", GlueHeader, GlueRow(0, "A.", "B.", "entailment"), GlueRow(1, "C.", "D.", "maybe")) + "\n");
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path + ":line 3").And.Contain("'maybe'"));
    }

    [Test]
    public void GlueWrongFieldCountNamesLine()
    {
        string path = Write("train.tsv", GlueHeader + "\n" + "0\t1\t1e\tfiction\tonly premise\n");
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Location, Is.EqualTo("line 2"));
        Assert.That(e.Message, Does.Contain("8 tab-separated fields"));
    }

    [TestCase("train.tsv")]
    [TestCase("train.jsonl")]
    [TestCase("train.parquet")]
    public void EmptyFileIsAnError(string name)
    {
        string path = Write(name, "");
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("empty").Or.Contain("no examples"));
    }

    [Test]
    public void GlueHeaderOnlyIsAnError()
    {
        string path = Write("train.tsv", GlueHeader + "\n");
        Assert.That(() => MnliReader.Read(path), Throws.TypeOf<DatasetFormatException>().With.Message.Contains("no rows"));
    }

    [Test]
    public void GlueInvalidUtf8NamesLine()
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(GlueHeader + "\n" + GlueRow(0, "Fine.", "Also fine.", "neutral") + "\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("1\t2\t2e\tfiction\tBad "));
        bytes.AddRange(new byte[] { 0xC3, 0x28, 0xFF });
        bytes.AddRange(Encoding.UTF8.GetBytes("\tB.\tneutral\tneutral\n"));
        string path = WriteBytes("train.tsv", bytes.ToArray());
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path + ":line 3").And.Contain("invalid UTF-8"));
    }

    [Test]
    public void JsonlInvalidUtf8AndUnknownLabelAndMissingPropertyAreCountedWhenSkipping()
    {
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"A.\", \"sentence2\": \"B.\", \"gold_label\": \"neutral\"}\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"bad \""[..^1]));
        bytes.AddRange(new byte[] { 0xE2, 0x82 });
        bytes.AddRange(Encoding.UTF8.GetBytes("\", \"sentence2\": \"B.\", \"gold_label\": \"neutral\"}\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"A.\", \"sentence2\": \"B.\", \"gold_label\": \"yes\"}\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"A.\", \"gold_label\": \"neutral\"}\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"A.\", \"sentence2\": \"B.\", \"gold_label\": \"-\"}\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("not json\n"));
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"sentence1\": \"C.\", \"sentence2\": \"D.\", \"gold_label\": \"contradiction\"}\n"));
        string path = WriteBytes("dev.jsonl", bytes.ToArray());

        var strict = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(strict.Message, Does.Contain(path + ":line 2").And.Contain("invalid UTF-8"));

        var result = MnliReader.Read(path, new DatasetReadOptions { SkipBadRows = true });
        Assert.That(result.Examples, Is.EqualTo(new[]
        {
            new MnliExample("A.", "B.", NliLabel.Neutral),
            new MnliExample("C.", "D.", NliLabel.Contradiction),
        }));
        Assert.That(result.SkippedBadRows, Is.EqualTo(4));
        Assert.That(result.SkippedNoGoldLabel, Is.EqualTo(1));
        Assert.That(result.BadRows, Has.Count.EqualTo(4));
        Assert.That(result.BadRows[1], Does.Contain(":line 3").And.Contain("'yes'"));
        Assert.That(result.BadRows[2], Does.Contain(":line 4").And.Contain("sentence2"));
        Assert.That(result.BadRows[3], Does.Contain(":line 6").And.Contain("JSON"));
    }

    [Test]
    public void GlueSkipsBadRowsWhenAsked()
    {
        string path = Write("train.tsv", string.Join("\n", GlueHeader, GlueRow(0, "A.", "B.", "entailment"),
            GlueRow(1, "C.", "D.", "???"), GlueRow(2, "E.", "F.", "-"), GlueRow(3, "G.", "H.", "neutral")) + "\n");
        var result = MnliReader.Read(path, new DatasetReadOptions { SkipBadRows = true });
        Assert.That(result.Examples.Select(e => e.Premise), Is.EqualTo(new[] { "A.", "G." }));
        Assert.That((result.SkippedBadRows, result.SkippedNoGoldLabel), Is.EqualTo((1, 1)));
        Assert.That(result.ToString(), Does.Contain("1 malformed rows skipped"));
    }

    [Test]
    public async Task ParquetWithAnotherSchemaNamesExpectedColumns()
    {
        var schema = new ParquetSchema(new DataField<string>("sentence"), new DataField<long>("label"));
        string path = Path.Combine(_dir, "train-00000-of-00001.parquet");
        await using (var stream = File.Create(path))
        {
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync((DataField)schema[0], (IReadOnlyCollection<string>)new[] { "a sentence" });
            await group.WriteAsync<long>((DataField)schema[1], new long[] { 1 });
        }
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("'premise'").And.Contain("sentence: string"));
    }

    [Test]
    public async Task ParquetBadLabelNamesRowAndMinusOneIsNoGold()
    {
        var schema = new ParquetSchema(new DataField<string>("premise"), new DataField<string>("hypothesis"), new DataField<long>("label"));
        string path = Path.Combine(_dir, "validation.parquet");
        await using (var stream = File.Create(path))
        {
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync((DataField)schema[0], (IReadOnlyCollection<string>)new[] { "P0", "P1", "P2" });
            await group.WriteAsync((DataField)schema[1], (IReadOnlyCollection<string>)new[] { "H0", "H1", "H2" });
            await group.WriteAsync<long>((DataField)schema[2], new long[] { 2, -1, 7 });
        }
        var e = Assert.Throws<DatasetFormatException>(() => MnliReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path + ":row 2").And.Contain("label 7"));
        var skipped = MnliReader.Read(path, new DatasetReadOptions { SkipBadRows = true });
        Assert.That(skipped.Examples, Is.EqualTo(new[] { new MnliExample("P0", "H0", NliLabel.Contradiction) }));
        Assert.That((skipped.SkippedNoGoldLabel, skipped.SkippedBadRows), Is.EqualTo((1, 1)));
    }

    [Test]
    public void NotAParquetFileIsAnError()
    {
        string path = Write("train.parquet", "this is not parquet at all");
        Assert.That(() => MnliReader.Read(path), Throws.TypeOf<DatasetFormatException>().With.Message.Contains(path));
    }

    [Test]
    public void MissingFileAndUnknownExtension()
    {
        Assert.That(() => MnliReader.Read(Path.Combine(_dir, "nope.tsv")), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("nope.tsv"));
        Assert.That(() => MnliReader.Read(Path.Combine(_dir, "data.csv")), Throws.ArgumentException.With.Message.Contains(".csv"));
        Assert.That(() => MnliReader.FindSplitFile(_dir, "test"), Throws.ArgumentException.With.Message.Contains("test"));
        Assert.That(() => MnliReader.FindSplitFile(_dir, "train"), Throws.TypeOf<FileNotFoundException>());
    }
}
