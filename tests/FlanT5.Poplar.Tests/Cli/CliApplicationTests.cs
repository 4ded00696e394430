using System.CommandLine;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Tests.Cli;

public class CliApplicationTests
{
    private static Command Throwing(Exception e)
    {
        var command = new Command("boom");
        command.SetAction(new Func<ParseResult, int>(_ => throw e));
        return command;
    }

    [TestCase(typeof(InvalidDataException), 2)]
    [TestCase(typeof(ArgumentException), 2)]
    [TestCase(typeof(FileNotFoundException), 2)]
    [TestCase(typeof(DirectoryNotFoundException), 2)]
    [TestCase(typeof(IOException), 2)]
    [TestCase(typeof(FlanT5.Poplar.Training.TrainingDivergedException), 2)]
    [TestCase(typeof(InvalidOperationException), 1)]
    [TestCase(typeof(NullReferenceException), 1)]
    public void ExceptionsMapToExitCodes(Type type, int expected)
    {
        var exception = (Exception)Activator.CreateInstance(type, "the message")!;
        var result = CliRunner.Run([Throwing(exception)], CancellationToken.None, "boom");

        Assert.That(result.ExitCode, Is.EqualTo(expected));
        if (expected == 2)
        {
            Assert.That(result.Error, Is.EqualTo("error: the message" + Environment.NewLine));
        }
        else
        {
            Assert.That(result.Error, Does.StartWith($"internal error: {type.Name}: the message"));
            Assert.That(result.Error, Does.Contain("--verbose"));
        }
    }

    [Test]
    public void CancellationTokenReachesTheCommandAndCancelledExitsWith130()
    {
        var sawCancellation = false;
        var command = new Command("train");
        command.SetAction(async (_, token) =>
        {
            sawCancellation = token.IsCancellationRequested;
            await Task.Delay(Timeout.Infinite, token);
            return 0;
        });
        using var source = new CancellationTokenSource();
        source.Cancel();

        var result = CliRunner.Run([command], source.Token, "train");

        Assert.That(sawCancellation, Is.True);
        Assert.That(result.ExitCode, Is.EqualTo(130));
        Assert.That(result.Error.Trim(), Is.EqualTo("cancelled"));
    }

    [Test]
    public void CommandsWriteToTheConfiguredOutput()
    {
        var command = new Command("hello");
        command.SetAction(parseResult => parseResult.InvocationConfiguration.Output.WriteLine("hi"));

        var result = CliRunner.Run([command], CancellationToken.None, "hello");

        Assert.That(result.ExitCode, Is.EqualTo(0));
        Assert.That(result.Output, Is.EqualTo("hi" + Environment.NewLine));
    }
}
