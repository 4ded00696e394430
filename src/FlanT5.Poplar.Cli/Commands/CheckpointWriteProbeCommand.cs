using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// Hidden: saves a synthetic training checkpoint of about --megabytes MB, printing a line per file written. The
/// kill-while-saving test starts it, kills it mid-save (--pause-at holds the save at a given progress line so the
/// kill lands there on a loaded machine) and checks the previous checkpoint still loads.
/// </summary>
internal static class CheckpointWriteProbeCommand
{
    internal static Command Create()
    {
        var dir = new Option<string>("--dir") { Required = true };
        var step = new Option<long>("--step") { Required = true };
        var megabytes = new Option<int>("--megabytes") { DefaultValueFactory = _ => 64 };
        var pauseAt = new Option<string?>("--pause-at") { Description = "Sleep a minute after printing this progress line" };
        var command = new Command("checkpoint-write-probe", "Write a synthetic training checkpoint (tests)") { dir, step, megabytes, pauseAt };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            var state = SyntheticState(parse.GetValue(step), parse.GetValue(megabytes));
            var store = new TrainingCheckpointStore(parse.GetValue(dir)!, keepLast: 0)
            {
                Progress = line =>
                {
                    Console.WriteLine(line);
                    Console.Out.Flush();
                    if (line == parse.GetValue(pauseAt)) Thread.Sleep(TimeSpan.FromMinutes(1));
                },
            };
            store.Save(state);
            return 0;
        });
        return command;
    }

    /// <summary>Values derived from the step, so a test can tell which save a checkpoint came from.</summary>
    internal static TrainingState SyntheticState(long step, int megabytes)
    {
        int perTensor = Math.Max(1, megabytes * (1 << 20) / 4 / 3 / 4);
        HostTensorSet Set(float offset)
        {
            var set = new HostTensorSet();
            for (int i = 0; i < 4; i++)
            {
                var data = new float[perTensor];
                for (int j = 0; j < data.Length; j++) data[j] = step + offset + i + j * 1e-6f;
                set.Add($"t{i}", new HostTensor([perTensor], data));
            }
            return set;
        }
        return new TrainingState
        {
            Step = step,
            Config = T5ModelConfig.FlanT5("small"),
            Layout = EmbeddingLayout.Shared,
            Weights = Set(0),
            AdamFirstMoment = Set(0.25f),
            AdamSecondMoment = Set(0.5f),
            SchedulePosition = step,
            DataCursor = BitConverter.GetBytes(step),
        };
    }
}
