using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// The one place a native status becomes an exception. The generated Ft5Native.Checked wrappers call it right after
/// the native call, so ft5_last_error() is read on the same thread before any other ft5 call can overwrite it.
/// </summary>
internal static unsafe class Ft5Status
{
    public static void Check(ft5_status status, string function)
    {
        if (status == ft5_status.FT5_OK) return;
        throw Ft5Exception.Create((Ft5StatusCode)status, LastError(), function);
    }

    /// <summary>The message of the last failed call on this thread ("" when none).</summary>
    public static string LastError()
    {
        var message = Ft5Native.ft5_last_error();
        return message == null ? "" : Marshal.PtrToStringUTF8((nint)message) ?? "";
    }
}
