using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Configuration;

/// <summary>How configs and command lines spell <see cref="SessionExecutor"/> (execution.executor, --executor).</summary>
public static class SessionExecutorNames
{
    public static IReadOnlyList<(string Name, SessionExecutor Value)> All { get; } =
        [("auto", SessionExecutor.Auto), ("eager", SessionExecutor.Eager), ("builder", SessionExecutor.Builder)];

    /// <summary>The executor named <paramref name="name"/>; an unknown name throws naming <paramref name="option"/>.</summary>
    public static SessionExecutor Parse(string? name, string option)
    {
        foreach (var (n, value) in All)
        {
            if (n == name) return value;
        }
        throw new ArgumentException($"{option} is '{name}'; expected {string.Join(", ", All.Select(e => e.Name))}");
    }
}
