using System.CommandLine;
using System.Globalization;
using FlanT5.Poplar.Configuration;
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
            var directory = parse.GetValue(model)!.FullName;
            T5Tokenizer tokenizer;
            int vocabSize;
            try
            {
                tokenizer = T5Tokenizer.FromDirectory(directory);
                vocabSize = ModelVocabSize(directory) ?? tokenizer.VocabSize;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
            {
                error.WriteLine($"error: {e.Message}");
                return Hosting.ExitCodes.UserError;
            }
            return Run(tokenizer, Console.In, output, error, parse.GetValue(decode), !parse.GetValue(noEos), parse.GetValue(skipSpecial), vocabSize);
        });
        return command;
    }

    /// <summary>vocab_size of the folder's config.json (the model's embedding rows, which may exceed the tokenizer's
    /// ids: 32128 against 32100 for Flan-T5); null when there is none.</summary>
    private static int? ModelVocabSize(string directory)
    {
        var path = Path.Combine(directory, "config.json");
        return File.Exists(path) ? T5ModelConfig.Load(path).VocabSize : null;
    }

    /// <summary>
    /// The command's work over any reader and writers (stdin/stdout in the CLI); returns the exit code (2 for a line
    /// that is not ids). <paramref name="vocabSize"/> bounds the ids --decode accepts (default: the tokenizer's); ids
    /// past the tokenizer's pieces decode to nothing, as Hugging Face's tokenizers do.
    /// </summary>
    internal static int Run(T5Tokenizer tokenizer, TextReader input, TextWriter output, TextWriter error, bool decode, bool addEos,
        bool skipSpecial, int? vocabSize = null)
    {
        int limit = vocabSize ?? tokenizer.VocabSize;
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
                if (!int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int id) || id < 0 || id >= limit)
                {
                    error.WriteLine($"error: stdin line {lineNumber}: '{token}' is not a token id (0..{limit - 1})");
                    return Hosting.ExitCodes.UserError;
                }
                ids.Add(id);
            }
            output.WriteLine(tokenizer.Decode(ids.ToArray(), skipSpecial));
        }
        return Hosting.ExitCodes.Success;
    }
}
