namespace FlanT5.Poplar.Placement;

/// <summary>
/// The launcher's environment contradicts itself or the plan: <see cref="Variable"/> (an environment variable, or
/// the config key it is checked against) has <see cref="Value"/> ("unset" when absent), and the message says what
/// was expected. An <see cref="ArgumentException"/>: the user fixes the launch command or the config.
/// </summary>
public sealed class InvalidLaunchException(string variable, string value, string expected)
    : ArgumentException($"launch: {variable}={value}: {expected}")
{
    public string Variable { get; } = variable;
    public string Value { get; } = value;
}
