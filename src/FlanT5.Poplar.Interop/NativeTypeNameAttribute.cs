namespace FlanT5.Poplar.Interop;

/// <summary>Records the C spelling of a generated declaration's type (as ClangSharp does); documentation only.</summary>
[AttributeUsage(AttributeTargets.Struct | AttributeTargets.Enum | AttributeTargets.Parameter | AttributeTargets.Field |
                AttributeTargets.ReturnValue, AllowMultiple = false, Inherited = true)]
internal sealed class NativeTypeNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
