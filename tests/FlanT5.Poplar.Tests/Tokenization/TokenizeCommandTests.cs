using System.CommandLine;
using FlanT5.Poplar.Cli.Commands;

namespace FlanT5.Poplar.Tests.Tokenization;

public class TokenizeCommandTests
{
    [Test]
    public void EncodesAndDecodesLines()
    {
        var tok = TokenizerFixtures.Tokenizer;
        var output = new StringWriter();
        int rc = TokenizeCommand.Run(tok, new StringReader("entailment\nneutral <extra_id_0>\n\n"), output, new StringWriter(), decode: false, addEos: true, skipSpecial: false);
        Assert.That(rc, Is.Zero);
        Assert.That(output.ToString().Split('\n'), Is.EqualTo(new[] { "59 1", $"60 {tok.ExtraId(0)} 1", "1", "" }));

        var noEos = new StringWriter();
        TokenizeCommand.Run(tok, new StringReader("entailment\n"), noEos, new StringWriter(), decode: false, addEos: false, skipSpecial: false);
        Assert.That(noEos.ToString(), Is.EqualTo("59\n"));

        var decoded = new StringWriter();
        TokenizeCommand.Run(tok, new StringReader("59 1\n60 2099 1\n"), decoded, new StringWriter(), decode: true, addEos: true, skipSpecial: false);
        Assert.That(decoded.ToString(), Is.EqualTo("entailment</s>\nneutral<extra_id_0></s>\n"));
    }

    [Test]
    public void DecodeRejectsBadIdsNamingTheLine()
    {
        var error = new StringWriter();
        int rc = TokenizeCommand.Run(TokenizerFixtures.Tokenizer, new StringReader("59 1\n59 x\n"), new StringWriter(), error, decode: true, addEos: true, skipSpecial: false);
        Assert.That(rc, Is.EqualTo(2), "bad input is a user error, as in every other command");
        Assert.That(error.ToString(), Does.Contain("line 2").And.Contain("'x'"));
    }

    [Test]
    public void CommandParsesOptionsAndReportsMissingModel()
    {
        var command = TokenizeCommand.Create();
        Assert.That(command.Name, Is.EqualTo("tokenize"));
        Assert.That(command.Parse(["--decode"]).Errors, Is.Not.Empty, "--model is required");
        var error = new StringWriter();
        int rc = command.Parse(["--model", Path.Combine(TokenizerFixtures.Root, "no-such-model")])
            .Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("no-such-model").And.Contain("no such folder"));
    }
}
