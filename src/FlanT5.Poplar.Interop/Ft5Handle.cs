using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// A SafeHandle over one opaque ft5 handle type. A child (tensor, session) holds a reference on its parent device's
/// handle from creation until it has destroyed itself, so the device is destroyed last whatever the dispose order.
/// </summary>
internal abstract unsafe class Ft5Handle<TNative> : SafeHandle where TNative : unmanaged
{
    private SafeHandle? _parent;

    protected Ft5Handle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Keeps the handle open for the duration of a native call; throws ObjectDisposedException once closed.</summary>
    public Lease Acquire()
    {
        var added = false;
        DangerousAddRef(ref added);
        return new Lease(this);
    }

    /// <summary>Takes ownership of a freshly created native pointer, and a reference on the parent already acquired.</summary>
    protected void Adopt(TNative* pointer, SafeHandle? parentWithReference)
    {
        _parent = parentWithReference;
        SetHandle((nint)pointer);
    }

    protected abstract void Destroy(TNative* pointer);

    protected sealed override bool ReleaseHandle()
    {
        Destroy((TNative*)handle);
        _parent?.DangerousRelease();
        _parent = null;
        return true;
    }

    /// <summary>An acquired reference; dispose it (using) when the native call returns.</summary>
    public readonly ref struct Lease
    {
        private readonly Ft5Handle<TNative> _owner;

        internal Lease(Ft5Handle<TNative> owner) => _owner = owner;

        public TNative* Pointer => (TNative*)_owner.DangerousGetHandle();

        public void Dispose() => _owner.DangerousRelease();
    }
}

internal sealed unsafe class DeviceHandle : Ft5Handle<ft5_device>
{
    public static DeviceHandle Create(in ft5_device_desc desc)
    {
        var result = new DeviceHandle();
        ft5_device* device = null;
        fixed (ft5_device_desc* d = &desc) Ft5Native.Checked.ft5_device_create(d, &device);
        result.Adopt(device, null);
        return result;
    }

    protected override void Destroy(ft5_device* pointer) => Ft5Native.ft5_device_destroy(pointer);
}

internal sealed unsafe class TensorHandle : Ft5Handle<ft5_tensor>
{
    public static TensorHandle Create(DeviceHandle device, in ft5_tensor_desc desc)
    {
        var result = new TensorHandle();
        var added = false;
        device.DangerousAddRef(ref added);
        try
        {
            ft5_tensor* tensor = null;
            fixed (ft5_tensor_desc* d = &desc)
            {
                Ft5Native.Checked.ft5_tensor_create((ft5_device*)device.DangerousGetHandle(), d, &tensor);
            }
            result.Adopt(tensor, device);
            return result;
        }
        catch
        {
            device.DangerousRelease();
            throw;
        }
    }

    protected override void Destroy(ft5_tensor* pointer) => Ft5Native.ft5_tensor_destroy(pointer);
}

internal sealed unsafe class SessionHandle : Ft5Handle<ft5_session>
{
    public static SessionHandle Create(DeviceHandle device, in ft5_model_desc model, in ft5_plan_desc plan)
    {
        var result = new SessionHandle();
        var added = false;
        device.DangerousAddRef(ref added);
        try
        {
            ft5_session* session = null;
            fixed (ft5_model_desc* m = &model)
            fixed (ft5_plan_desc* p = &plan)
            {
                Ft5Native.Checked.ft5_session_create((ft5_device*)device.DangerousGetHandle(), m, p, &session);
            }
            result.Adopt(session, device);
            return result;
        }
        catch
        {
            device.DangerousRelease();
            throw;
        }
    }

    protected override void Destroy(ft5_session* pointer) => Ft5Native.ft5_session_destroy(pointer);
}
