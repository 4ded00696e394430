using Parquet;
using Parquet.Schema;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Hugging Face's glue/mnli parquet files: <c>premise</c>, <c>hypothesis</c> (strings) and <c>label</c>
/// (integer 0 entailment, 1 neutral, 2 contradiction; -1 = no label, skipped and counted). Other columns are ignored.
/// </summary>
public sealed class ParquetMnliReader(DatasetReadOptions? options = null) : IDatasetReader<MnliExample>
{
    private readonly DatasetReadOptions _options = options ?? new DatasetReadOptions();

    public DatasetReadResult<MnliExample> Read(string path) => ReadAsync(path).GetAwaiter().GetResult();

    private async Task<DatasetReadResult<MnliExample>> ReadAsync(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such dataset file", path);
        if (new FileInfo(path).Length == 0)
            throw new DatasetFormatException(path, "", "the file is empty (expected a parquet file)");
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DatasetFormatException(path, "", $"not a readable parquet file: {e.Message}", e);
        }
        await using var _ = reader.ConfigureAwait(false);

        var fields = reader.Schema.GetDataFields();
        DataField premiseField = Field(fields, "premise", path, typeof(string));
        DataField hypothesisField = Field(fields, "hypothesis", path, typeof(string));
        DataField labelField = Field(fields, "label", path, typeof(long), typeof(int));

        var collector = new DatasetReadCollector<MnliExample>(path, _options);
        long rowBase = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int rows = checked((int)group.RowCount);
            var premises = new string?[rows];
            var hypotheses = new string?[rows];
            var labels = new long?[rows];
            string column = premiseField.Name;
            try
            {
                await group.ReadAsync(premiseField, premises.AsMemory()).ConfigureAwait(false);
                column = hypothesisField.Name;
                await group.ReadAsync(hypothesisField, hypotheses.AsMemory()).ConfigureAwait(false);
                column = labelField.Name;
                await ReadLabels(group, labelField, labels).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or DatasetFormatException))
            {
                // The parquet library meets a damaged page with whatever exception its decoder hits (an index out of
                // range, an overflow): all of them mean the file is damaged, which the user can act on.
                throw new DatasetFormatException(path, $"row group {g}",
                    $"column '{column}' cannot be decoded (the file is damaged or truncated): {e.GetType().Name}: {e.Message}", e);
            }
            for (int i = 0; i < rows; i++)
            {
                string location = $"row {rowBase + i}";
                long? label = labels[i];
                if (label == -1)
                {
                    collector.SkipNoGold();
                    continue;
                }
                if (label is null or < 0 or > 2)
                {
                    collector.Bad(location, $"label {(label is null ? "null" : label.ToString())} is not 0 (entailment), 1 (neutral), 2 (contradiction) or -1 (no label)");
                    continue;
                }
                if (premises[i] is null || hypotheses[i] is null)
                {
                    collector.Bad(location, $"{(premises[i] is null ? "premise" : "hypothesis")} is null");
                    continue;
                }
                collector.Add(new MnliExample(premises[i]!, hypotheses[i]!, (NliLabel)label.Value));
            }
            rowBase += rows;
        }
        return collector.Finish("the parquet file has no rows");
    }

    private static async Task ReadLabels(ParquetRowGroupReader group, DataField field, long?[] labels)
    {
        bool wide = Nullable.GetUnderlyingType(field.ClrType) == typeof(long) || field.ClrType == typeof(long);
        if (wide)
        {
            if (field.IsNullable)
            {
                await group.ReadAsync(field, labels.AsMemory()).ConfigureAwait(false);
            }
            else
            {
                var values = new long[labels.Length];
                await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
                for (int i = 0; i < values.Length; i++) labels[i] = values[i];
            }
        }
        else if (field.IsNullable)
        {
            var values = new int?[labels.Length];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            for (int i = 0; i < values.Length; i++) labels[i] = values[i];
        }
        else
        {
            var values = new int[labels.Length];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            for (int i = 0; i < values.Length; i++) labels[i] = values[i];
        }
    }

    private static DataField Field(DataField[] fields, string name, string path, params Type[] types)
    {
        string schema = string.Join(", ", fields.Select(f => $"{f.Name}: {Describe(f.ClrType)}"));
        var field = fields.FirstOrDefault(f => f.Name == name && !f.IsArray);
        if (field is null)
            throw new DatasetFormatException(path, "",
                $"missing column '{name}': an MNLI parquet file needs premise: string, hypothesis: string, label: int64; this file has {schema}");
        var clr = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (clr == typeof(ReadOnlyMemory<char>)) clr = typeof(string); // Parquet.Net 6 reports UTF-8 columns as ReadOnlyMemory<char>
        if (!types.Contains(clr))
            throw new DatasetFormatException(path, "",
                $"column '{name}' is {Describe(field.ClrType)}, expected {string.Join(" or ", types.Select(Describe))} (schema: {schema})");
        return field;
    }

    private static string Describe(Type t) => (Nullable.GetUnderlyingType(t) ?? t).Name switch
    {
        "String" or "ReadOnlyMemory`1" => "string",
        "Int64" => "int64",
        "Int32" => "int32",
        var other => other.ToLowerInvariant(),
    };
}
