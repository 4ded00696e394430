namespace FlanT5.Poplar.Interop;

/// <summary>Status codes of the native library (ft5_status), as seen by managed code.</summary>
public enum Ft5StatusCode
{
    Ok = 0,
    InvalidArgument = 1,
    InvalidHandle = 2,
    OutOfMemory = 3,
    BackendUnavailable = 4,
    NotSupported = 5,
    Internal = 6,
    FloatingPoint = 7,
}

/// <summary>A native call failed. <see cref="NativeMessage"/> is ft5_last_error() as read right after the call.</summary>
public class Ft5Exception : Exception
{
    public Ft5Exception(Ft5StatusCode status, string nativeMessage, string function)
        : base(Describe(status, nativeMessage, function))
    {
        Status = status;
        NativeMessage = nativeMessage;
        Function = function;
    }

    public Ft5StatusCode Status { get; }

    /// <summary>The library's own message; it names the argument, tensor or IPU involved.</summary>
    public string NativeMessage { get; }

    /// <summary>The C function that failed.</summary>
    public string Function { get; }

    /// <summary>The exception type for a status: one subclass per code, the base class for codes this build does not know.</summary>
    internal static Ft5Exception Create(Ft5StatusCode status, string nativeMessage, string function) => status switch
    {
        Ft5StatusCode.InvalidArgument => new Ft5InvalidArgumentException(nativeMessage, function),
        Ft5StatusCode.InvalidHandle => new Ft5InvalidHandleException(nativeMessage, function),
        Ft5StatusCode.OutOfMemory => new Ft5OutOfMemoryException(nativeMessage, function),
        Ft5StatusCode.BackendUnavailable => new Ft5BackendUnavailableException(nativeMessage, function),
        Ft5StatusCode.NotSupported => new Ft5NotSupportedException(nativeMessage, function),
        Ft5StatusCode.Internal => new Ft5InternalException(nativeMessage, function),
        Ft5StatusCode.FloatingPoint => new Ft5FloatingPointException(nativeMessage, function),
        _ => new Ft5Exception(status, nativeMessage, function),
    };

    private static string Describe(Ft5StatusCode status, string nativeMessage, string function) =>
        nativeMessage.Length == 0
            ? $"{function} failed with {status} (the library gave no message)"
            : $"{nativeMessage} ({function}: {status})";
}

/// <summary>A floating-point exception stopped a program (the plan's DetectOverflow): the message names the op (a
/// projection by its parameter), the value, and the ranges of the op's inputs and output.</summary>
public sealed class Ft5FloatingPointException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.FloatingPoint, nativeMessage, function);

public sealed class Ft5InvalidArgumentException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.InvalidArgument, nativeMessage, function);

public sealed class Ft5InvalidHandleException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.InvalidHandle, nativeMessage, function);

/// <summary>An IPU's tile memory, its streaming memory, or the host ran out; the device stays usable.</summary>
public sealed class Ft5OutOfMemoryException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.OutOfMemory, nativeMessage, function);

public sealed class Ft5BackendUnavailableException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.BackendUnavailable, nativeMessage, function);

public sealed class Ft5NotSupportedException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.NotSupported, nativeMessage, function);

public sealed class Ft5InternalException(string nativeMessage, string function)
    : Ft5Exception(Ft5StatusCode.Internal, nativeMessage, function);
