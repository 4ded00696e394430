using System.CommandLine;
using FlanT5.Poplar.Cli.Commands;

namespace FlanT5.Poplar.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("flant5: fine-tune and run Flan-T5 on Graphcore IPUs (or the emulator)")
        {
            ConvertCommand.Create(),
            CheckpointWriteProbeCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
