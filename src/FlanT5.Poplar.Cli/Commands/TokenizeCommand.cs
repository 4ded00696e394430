using System.CommandLine;
using System.Globalization;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 tokenize --model DIR</c>: reads lines from stdin and prints each line's token ids, space-separated, one
/// line each (eos appended unless <c>--no-eos</c>); <c>--decode</c> does the reverse.
/// </summary>
internal static class TokenizeCommand
{
    internal static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m")
        {
            Description = "Model folder with spiece.model (and tokenizer_config.json)",
            Required = true,
        };
        var decode = new Option<bool>("--decode") { Description = "Read space-separated ids per line and print the text" };
        var noEos = new Option<bool>("--no-eos") { Description = "Do not append eos (</s>) when encoding" };
        var skipSpecial = new Option<bool>("--skip-special") { Description = "With --decode: leave special tokens (</s>, <pad>, <unk>, sentinels) out" };

        var command = new Command("tokenize", "Encode stdin lines to T5 token ids (or decode ids with --decode)");
        command.Options.Add(model);
        command.Options.Add(decode);
        command.Options.Add(noEos);
        command.Options.Add(skipSpecial);
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            T5Tokenizer tokenizer;
            try
            {
                tokenizer = T5Tokenizer.FromDirectory(parse.GetValue(model)!.FullName);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                error.WriteLine($"flant5 tokenize: {e.Message}");
                return 1;
            }
            return Run(tokenizer, Console.In, output, error, parse.GetValue(decode), !parse.GetValue(noEos), parse.GetValue(skipSpecial));
        });
        return command;
    }

    /// <summary>The command's work over any reader and writers (stdin/stdout in the CLI); returns the exit code.</summary>
    internal static int Run(T5Tokenizer tokenizer, TextReader input, TextWriter output, TextWriter error, bool decode, bool addEos, bool skipSpecial)
    {
        var ids = new List<int>();
        int lineNumber = 0;
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            lineNumber++;
            if (!decode)
            {
                ids.Clear();
                tokenizer.Encode(line, ids, addEos);
                output.WriteLine(string.Join(' ', ids));
                continue;
            }
            ids.Clear();
            foreach (var token in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            {
                if (!int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int id) || id < 0 || id >= tokenizer.VocabSize)
                {
                    error.WriteLine($"flant5 tokenize: stdin line {lineNumber}: '{token}' is not a token id (0..{tokenizer.VocabSize - 1})");
                    return 1;
                }
                ids.Add(id);
            }
            output.WriteLine(tokenizer.Decode(ids.ToArray(), skipSpecial));
        }
        return 0;
    }
}
