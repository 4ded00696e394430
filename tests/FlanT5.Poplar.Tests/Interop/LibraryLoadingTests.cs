using System.Runtime.InteropServices;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>Probing for libft5.so and the ABI version check.</summary>
[TestFixture]
public class LibraryLoadingTests
{
    [Test]
    public void TheLoadedLibraryHasTheBindingsAbiVersion()
    {
        Assert.That(Ft5Native.ft5_abi_version(), Is.EqualTo(Ft5AbiVersion.Bindings));
        Assert.That(Ft5AbiVersion.Bindings >> 16, Is.EqualTo((uint)Ft5Native.FT5_ABI_VERSION_MAJOR));
    }

    [TestCase(1u, 0u, 1u, 0u, true)]
    [TestCase(1u, 7u, 1u, 3u, true)]
    [TestCase(1u, 2u, 1u, 3u, false)]
    [TestCase(2u, 0u, 1u, 0u, false)]
    [TestCase(0u, 9u, 1u, 0u, false)]
    public void AbiRuleIsSameMajorAndNoOlderMinor(uint libMajor, uint libMinor, uint needMajor, uint needMinor, bool ok)
    {
        void Check() => Ft5AbiVersion.EnsureCompatible((libMajor << 16) | libMinor, (needMajor << 16) | needMinor, "/x/libft5.so");
        if (ok)
        {
            Assert.DoesNotThrow(Check);
            return;
        }
        var e = Assert.Throws<InvalidOperationException>(Check)!;
        Assert.That(e.Message, Does.Contain("/x/libft5.so").And.Contain($"{libMajor}.{libMinor}").And.Contain($"{needMajor}.{needMinor}"));
    }

    [Test]
    public void ANonexistentOverrideFailsAndSaysWhatWasTried()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "libft5.so");
        var probe = new NativeLibraryProbe(missing, AppContext.BaseDirectory);

        var e = Assert.Throws<DllNotFoundException>(() => probe.Load())!;
        Assert.That(e.Message, Does.Contain("FT5_NATIVE_PATH=" + missing));
        Assert.That(e.Message, Does.Contain(missing + ": does not exist"));
        Assert.That(probe.Candidates(), Is.EqualTo(new[] { missing }), "an explicit path is never replaced by another copy");
    }

    [Test]
    public void WithoutOverrideEveryCandidateIsListedWithItsReason()
    {
        using var temp = new TempDirectory();
        var app = Path.Combine(temp.Path, "app");
        var artifacts = Path.Combine(temp.Path, "artifacts", "native", "Release");
        Directory.CreateDirectory(app);
        Directory.CreateDirectory(artifacts);
        File.WriteAllText(Path.Combine(artifacts, "libft5.so"), "not an ELF file");
        var probe = new NativeLibraryProbe(null, app);

        var e = Assert.Throws<DllNotFoundException>(() => probe.Load())!;
        Assert.That(probe.Candidates(), Is.EqualTo(new[]
        {
            Path.Combine(app, "libft5.so"),
            Path.Combine(app, "runtimes", "linux-x64", "native", "libft5.so"),
            Path.Combine(artifacts, "libft5.so"),
            Path.Combine(temp.Path, "artifacts", "native", "Debug", "libft5.so"),
            Path.Combine(temp.Path, "artifacts", "native", "libft5.so"),
        }));
        foreach (var candidate in probe.Candidates()) Assert.That(e.Message, Does.Contain(candidate));
        Assert.That(e.Message, Does.Contain(Path.Combine(app, "libft5.so") + ": does not exist"));
        Assert.That(e.Message, Does.Match(@"Release/libft5\.so: .*(invalid ELF|file too short|ELF)"));
    }

    [Test]
    public void AnOverrideDirectoryLoadsTheLibraryInIt()
    {
        using var temp = new TempDirectory();
        var real = new NativeLibraryProbe(null, AppContext.BaseDirectory).Load();
        File.Copy(real.Path, Path.Combine(temp.Path, "libft5.so"));
        var probe = new NativeLibraryProbe(temp.Path, "/nonexistent");

        var (handle, path) = probe.Load();
        Assert.That(path, Is.EqualTo(Path.Combine(temp.Path, "libft5.so")));
        Assert.DoesNotThrow(() => Ft5LibraryLoader.CheckAbi(handle, path));
        Assert.That(NativeLibrary.TryGetExport(handle, "ft5_device_create", out _), Is.True);
        NativeLibrary.Free(handle);
        NativeLibrary.Free(real.Handle);
    }
}
