using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Reads a YAML config into a <see cref="ConfigNode"/> tree from the parser's events, with bounds a hostile file cannot
/// pass: nesting depth, and the number of nodes after aliases are expanded (a "billion laughs" file is a few lines
/// that expand to 10⁹ nodes). An alias reuses the node its anchor built — nothing is copied — and an alias to a node
/// that contains it (a recursive document) is refused. Every error names the file, line and column.
/// </summary>
internal static class YamlConfigReader
{
    /// <summary>Deepest nesting of mappings and lists; a run config is three deep.</summary>
    public const int MaxDepth = 64;

    /// <summary>Most nodes the document may expand to, aliases counted at their full size; a run config has ~100.</summary>
    public const long MaxNodes = 100_000;

    private sealed class Frame(bool isMapping, ConfigLocation location, string? anchor, Mark start)
    {
        public bool IsMapping { get; } = isMapping;
        public ConfigLocation Location { get; } = location;
        public string? Anchor { get; } = anchor;
        public Mark Start { get; } = start;
        public List<ConfigEntry> Entries { get; } = [];
        public List<ConfigNode> Items { get; } = [];
        public ConfigScalar? PendingKey { get; set; }
        public long Size { get; set; } = 1;
    }

    public static ConfigMap Read(string text, string source)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, (ConfigNode Node, long Size)>(StringComparer.Ordinal);
        var open = new Stack<Frame>();
        ConfigNode? root = null;
        long total = 0;
        int documents = 0;

        string Where(Mark mark) => $"{source}:{mark.Line}:{mark.Column}";

        void Deliver(ConfigNode node, long size, Mark at)
        {
            total += size;
            if (total > MaxNodes)
                throw new InvalidDataException($"{Where(at)}: the document expands to more than {MaxNodes:N0} nodes (aliases counted in full); " +
                                               "a run config is a few sections of keys");
            if (open.Count == 0)
            {
                root = node;
                return;
            }
            var frame = open.Peek();
            frame.Size += size;
            if (!frame.IsMapping)
            {
                frame.Items.Add(node);
            }
            else if (frame.PendingKey is not { } key)
            {
                if (node is not ConfigScalar { Text: not null } scalar)
                    throw new InvalidDataException($"{Where(at)}: keys must be plain words");
                frame.PendingKey = scalar;
            }
            else
            {
                frame.Entries.Add(new ConfigEntry(key.Text!, node, key.Location));
                frame.PendingKey = null;
            }
        }

        void Remember(string? anchor, ConfigNode node, long size)
        {
            if (!string.IsNullOrEmpty(anchor)) anchors[anchor] = (node, size);
        }

        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                var location = new ConfigLocation(source, (int)e.Start.Line);
                switch (e)
                {
                    case DocumentStart:
                        if (++documents > 1)
                            throw new InvalidDataException($"{Where(e.Start)}: expected one YAML document, found a second one");
                        break;
                    case Scalar scalar:
                    {
                        var node = ToScalar(scalar, location);
                        Deliver(node, 1, e.Start);
                        Remember(scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value, node, 1);
                        break;
                    }
                    case SequenceStart sequence:
                        Push(new Frame(false, location, sequence.Anchor.IsEmpty ? null : sequence.Anchor.Value, e.Start));
                        break;
                    case MappingStart mapping:
                        Push(new Frame(true, location, mapping.Anchor.IsEmpty ? null : mapping.Anchor.Value, e.Start));
                        break;
                    case SequenceEnd or MappingEnd:
                    {
                        var frame = open.Pop();
                        ConfigNode node = frame.IsMapping ? new ConfigMap(frame.Entries, frame.Location) : new ConfigSequence(frame.Items, frame.Location);
                        total -= frame.Size - 1; // its children were counted as they arrived
                        Deliver(node, frame.Size, frame.Start);
                        Remember(frame.Anchor, node, frame.Size);
                        break;
                    }
                    case AnchorAlias alias:
                    {
                        var name = alias.Value.Value;
                        if (open.Any(f => f.Anchor == name))
                            throw new InvalidDataException($"{Where(e.Start)}: alias *{name} refers to a node that contains it (a recursive document)");
                        if (!anchors.TryGetValue(name, out var target))
                            throw new InvalidDataException($"{Where(e.Start)}: alias *{name} has no anchor &{name} before it");
                        Deliver(target.Node, target.Size, e.Start);
                        break;
                    }
                }
            }
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{Where(e.Start)}: not valid YAML: {Message(e)}", e);
        }
        catch (Exception e) when (e is not InvalidDataException and not OutOfMemoryException)
        {
            // The parser meets some malformed input (an unclosed bracket at the end of the file) with another exception.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new InvalidDataException($"{Where(at)}: not valid YAML: {e.Message}", e);
        }

        return root switch
        {
            null => new ConfigMap([], new ConfigLocation(source, 1)),
            ConfigMap map => map,
            ConfigScalar { IsNull: true } => new ConfigMap([], root.Location),
            _ => throw new InvalidDataException($"{root.Location}: the top level must be a mapping of sections (model:, training:, ...)"),
        };

        void Push(Frame frame)
        {
            if (open.Count >= MaxDepth)
                throw new InvalidDataException($"{Where(frame.Start)}: nested more than {MaxDepth} levels deep; a run config is a few sections of keys");
            open.Push(frame);
        }
    }

    private static ConfigScalar ToScalar(Scalar scalar, ConfigLocation location)
    {
        var quoted = scalar.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted
            or YamlDotNet.Core.ScalarStyle.Literal or YamlDotNet.Core.ScalarStyle.Folded;
        var value = scalar.Value;
        if (!quoted && (value is null or "" or "~" or "null" or "Null" or "NULL"))
            return new ConfigScalar(null, ScalarStyle.Plain, location);
        return new ConfigScalar(value ?? "", quoted ? ScalarStyle.Quoted : ScalarStyle.Plain, location);
    }

    private static string Message(YamlException e)
    {
        // YamlDotNet prefixes "(Lin: 3, Col: 5, Chr: 20) - (…): "; the location is already given.
        var text = e.Message;
        int cut = text.IndexOf("): ", StringComparison.Ordinal);
        if (text.StartsWith("(Lin", StringComparison.Ordinal) && cut > 0) text = text[(cut + 3)..];
        return e.InnerException is null ? text : $"{text} ({e.InnerException.Message})";
    }
}
