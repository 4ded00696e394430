using System.Security.Cryptography;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Tests.Cli;

namespace FlanT5.Poplar.Tests.Checkpoints;

/// <summary>
/// Exports never lose or overwrite what is there by surprise: a failed export (a full disk) leaves the previous one
/// as it was, a failed first export leaves nothing that looks complete, links planted in the output are replaced and
/// never written through, and an output that is the input under any name is refused before anything is written.
/// </summary>
public sealed class SafeExportTests
{
    private static string Tiny => CheckpointTestFiles.FlanT5Tiny;

    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(directory, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Test]
    public void AReExportThatRunsOutOfSpaceLeavesThePreviousExportUntouchedAndNamesTheFile()
    {
        // The previous export is bf16 (0.95 MB of weights, 1.7 MB with the tokenizer files); the new one fp32 (1.9 MB of
        // weights). On a 2.5 MB disk the new weights do not fit even where the old ones were deleted first.
        using var disk = LimitedDisk.Create(tmpfsBytes: 2_500_000, fileLimitBytes: 1_200_000);
        var output = Path.Combine(disk.Root, "export");
        using (var checkpoint = HfCheckpointLoader.Open(Tiny))
            HfCheckpointExporter.Export(checkpoint, output, new HfExportOptions { DType = SafetensorsDType.BF16, TokenizerSource = Tiny });
        var before = Snapshot(output);

        var (code, stdout, error) = ChildCli.Run(["convert", "--model", Tiny, "--output", output, "--host-only"], disk.ShellPrefix);

        Assert.That(Snapshot(output), Is.EqualTo(before), "every file of the previous export, byte for byte");
        Assert.That(code, Is.EqualTo(2), stdout + error);
        Assert.That(error, Does.Contain("model.safetensors").And.Contain("the previous export there is untouched"));
        Assert.That(Directory.EnumerateFileSystemEntries(disk.Root).Select(Path.GetFileName), Is.EqualTo(new[] { "export" }),
            "no staging folder is left behind");
        using var reloaded = HfCheckpointLoader.Open(output);
        Assert.That(reloaded.Tensors, Is.Not.Empty);
    }

    [Test]
    public void AFirstExportThatRunsOutOfSpaceLeavesNothingThatLooksComplete()
    {
        // 300 KB shards fit and so does spiece.model; tokenizer.json (472 KB) does not: on a 2.2 MB disk, or past a
        // 400 KB file limit, the export fails with its weights complete and its tokenizer half copied.
        using var disk = LimitedDisk.Create(tmpfsBytes: 2_200_000, fileLimitBytes: 400_000);
        var output = Path.Combine(disk.Root, "export");

        var (code, stdout, error) = ChildCli.Run(["convert", "--model", Tiny, "--output", output, "--host-only", "--max-shard-size", "300KB"],
            disk.ShellPrefix);

        Assert.That(Directory.EnumerateFileSystemEntries(disk.Root), Is.Empty, "no export folder, no staging folder");
        Assert.That(code, Is.EqualTo(2), stdout + error);
        Assert.That(error, Does.Contain("failed while writing").And.Contain("nothing was written there"));
    }

    [Test]
    public void LinksPlantedInTheOutputAreReplacedAndNeverWrittenThrough()
    {
        using var disk = LimitedDisk.Create(tmpfsBytes: 32_000_000, fileLimitBytes: 32_000_000);
        var victims = Path.Combine(disk.Root, "victims");
        var output = Path.Combine(disk.Root, "export");
        Directory.CreateDirectory(victims);
        Directory.CreateDirectory(output);
        string[] planted = ["config.json", "generation_config.json", "model.safetensors", "spiece.model", "tokenizer.json", "tokenizer_config.json"];
        foreach (var name in planted)
        {
            File.WriteAllText(Path.Combine(victims, name), $"victim {name}");
            File.CreateSymbolicLink(Path.Combine(output, name), Path.Combine(victims, name));
        }
        File.WriteAllText(Path.Combine(output, "README.md"), "the user's notes");
        File.CreateSymbolicLink(Path.Combine(output, "notes-link"), Path.Combine(victims, "config.json"));

        using (var checkpoint = HfCheckpointLoader.Open(Tiny))
            HfCheckpointExporter.Export(checkpoint, output, new HfExportOptions { TokenizerSource = Tiny });

        foreach (var name in planted)
        {
            Assert.That(File.ReadAllText(Path.Combine(victims, name)), Is.EqualTo($"victim {name}"), $"{name} was written through the link");
            var written = new FileInfo(Path.Combine(output, name));
            Assert.That(written.LinkTarget, Is.Null, $"{name} is a file of the export now, not the planted link");
        }
        Assert.That(File.ReadAllText(Path.Combine(output, "README.md")), Is.EqualTo("the user's notes"), "files the export does not write are kept");
        Assert.That(new FileInfo(Path.Combine(output, "notes-link")).LinkTarget, Is.EqualTo(Path.Combine(victims, "config.json")),
            "a link the export does not own stays a link");
        Assert.That(File.ReadAllBytes(Path.Combine(output, "spiece.model")), Is.EqualTo(File.ReadAllBytes(Path.Combine(Tiny, "spiece.model"))));
        using var reloaded = HfCheckpointLoader.Open(output);
        Assert.That(reloaded.Tensors, Is.Not.Empty);
    }

    [Test]
    public void AnOutputThatIsTheInputUnderAnyNameIsRefusedBeforeAnythingIsWritten()
    {
        using var disk = LimitedDisk.Create(tmpfsBytes: 32_000_000, fileLimitBytes: 32_000_000);
        var model = Path.Combine(disk.Root, "model");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.EnumerateFiles(Tiny)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var alias = Path.Combine(disk.Root, "alias");
        Directory.CreateSymbolicLink(alias, model);
        var before = Snapshot(model);

        var outputs = new List<(string Output, string[] Extra)>
        {
            (model, []),                                   // the same folder, through the device
            (model, ["--host-only"]),                      // the same folder, streamed on the host
            (alias, ["--host-only"]),                      // a symbolic link to it
            (alias + "/", []),
            (Path.Combine(model, "..", "model"), []),      // another spelling
            (disk.Root, ["--host-only"]),                  // a folder that holds it
        };
        var bind = Path.Combine(disk.Root, "bind");
        Directory.CreateDirectory(bind);
        bool bound = Environment.UserName == "root" && Mount("--bind", model, bind);
        if (bound) outputs.Add((bind, ["--host-only"])); // the same folder by inode only
        try
        {
            foreach (var (output, extra) in outputs)
            {
                var result = CliRunner.Run(["convert", "--model", model, "--output", output, "--dtype", "bf16", .. extra]);
                Assert.That(result.ExitCode, Is.EqualTo(2), $"--output {output} {string.Join(' ', extra)}: {result.Output}{result.Error}");
                Assert.That(result.Error, Does.Contain("--model").And.Contain("choose another folder"), output);
                Assert.That(Snapshot(model), Is.EqualTo(before), $"--output {output}: the input must be untouched");
            }
        }
        finally
        {
            if (bound) Mount("-u", bind);
        }
        TestContext.Out.WriteLine(bound ? "checked a bind-mounted alias too" : "no bind mount possible here (not root)");
    }

    private static bool Mount(string how, string source, string? target = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo(how == "-u" ? "umount" : "mount") { UseShellExecute = false, RedirectStandardError = true };
        if (how == "-u") start.ArgumentList.Add(source);
        else foreach (var a in new[] { how, source, target! }) start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start)!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }
}
