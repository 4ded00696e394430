namespace FlanT5.Poplar.Data;

/// <summary>An example whose named fields a <see cref="PromptTemplate"/> can fill in ("premise", "label", ...).</summary>
public interface IPromptFields
{
    /// <summary>The value of field <paramref name="name"/>; false when the example has no such field.</summary>
    bool TryGetField(string name, out string value);

    /// <summary>The field names, for error messages.</summary>
    IEnumerable<string> FieldNames { get; }
}
