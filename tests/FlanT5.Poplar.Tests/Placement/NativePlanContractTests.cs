using System.Text.RegularExpressions;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>The managed plan types carry the values ft5_plan_desc expects (checked against the repository's ft5.h).</summary>
public partial class NativePlanContractTests
{
    private static string Header()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "native", "include", "ft5", "ft5.h");
            if (File.Exists(path)) return File.ReadAllText(path);
        }
        Assert.Fail("native/include/ft5/ft5.h not found above the test directory");
        return "";
    }

    [GeneratedRegex(@"(FT5_[A-Z0-9_]+)\s*=\s*(\d+)")]
    private static partial Regex EnumValue();

    [Test]
    public void EnumValuesMatchTheHeader()
    {
        var values = EnumValue().Matches(Header()).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(values["FT5_MEMORY_ON_CHIP"], Is.EqualTo((int)TensorLocation.OnChip));
        Assert.That(values["FT5_MEMORY_STREAMING"], Is.EqualTo((int)TensorLocation.Streaming));
        Assert.That(values["FT5_SCHEDULE_GPIPE"], Is.EqualTo((int)PipelineSchedule.GPipe));
        Assert.That(values["FT5_SCHEDULE_1F1B"], Is.EqualTo((int)PipelineSchedule.OneFOneB));
        Assert.That(values["FT5_EMBEDDING_SHARED"], Is.EqualTo((int)EmbeddingLayout.Shared));
        Assert.That(values["FT5_EMBEDDING_SEPARATE"], Is.EqualTo((int)EmbeddingLayout.Separate));
    }

    [Test]
    public void PlanDescHasAFieldForEverySetting()
    {
        var header = Header();
        var start = header.IndexOf("typedef struct ft5_plan_desc", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0));
        var desc = header[start..header.IndexOf("} ft5_plan_desc;", start, StringComparison.Ordinal)];
        foreach (var field in new[] { "tensor_parallel", "pipeline_stages", "replicas", "encoder_layers_per_stage",
                     "decoder_layers_per_stage", "schedule", "recompute", "weights_location", "optimizer_location" })
            Assert.That(desc, Does.Contain($" {field};"), field);
        Assert.That(header, Does.Contain("ipu = (replica * tp + tp_rank) * pp + stage"));
    }
}
