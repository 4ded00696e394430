using FlanT5.Poplar.Bench;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

/// <summary>Fixture paths and scratch folders for the checkpoint tests.</summary>
internal static class CheckpointTestFiles
{
    public static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    public static string FlanT5Tiny => Fixture("flan-t5-tiny");
    public static string HfT5Tiny => Fixture("hf-t5-tiny");

    public static string NewTempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ft5-ckpt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>All tensors of a safetensors folder or file as fp32, keyed by name.</summary>
    public static Dictionary<string, (int[] Shape, float[] Data)> ReadAll(string path)
    {
        using var files = SafetensorsFileSet.Open(path);
        var result = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (var name in files.Names)
        {
            var info = files.Info(name);
            var data = new float[info.ElementCount];
            files.ReadFloat32(name, data);
            result[name] = (info.Shape, data);
        }
        return result;
    }

    public static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(a).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));

    /// <summary>A small valid safetensors file with F32, BF16 and F16 tensors (the fuzzing seed).</summary>
    public static byte[] SmallValidFile() => SafetensorsFuzzer.SeedFile();
}
