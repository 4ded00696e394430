namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>The prompts of the commands that take --prompt or, without it, standard input.</summary>
internal static class PromptInput
{
    /// <summary>One prompt per non-empty line.</summary>
    public static List<string> ReadLines(TextReader input)
    {
        var lines = new List<string>();
        while (input.ReadLine() is { } line)
            if (line.Length > 0) lines.Add(line);
        return lines;
    }
}
