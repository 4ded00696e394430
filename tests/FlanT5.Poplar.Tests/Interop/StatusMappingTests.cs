using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>Every ft5_status becomes its exception type carrying the native message.</summary>
[TestFixture]
public unsafe class StatusMappingTests
{
    [TestCase((int)ft5_status.FT5_ERR_INVALID_ARGUMENT, typeof(Ft5InvalidArgumentException))]
    [TestCase((int)ft5_status.FT5_ERR_INVALID_HANDLE, typeof(Ft5InvalidHandleException))]
    [TestCase((int)ft5_status.FT5_ERR_OUT_OF_MEMORY, typeof(Ft5OutOfMemoryException))]
    [TestCase((int)ft5_status.FT5_ERR_BACKEND_UNAVAILABLE, typeof(Ft5BackendUnavailableException))]
    [TestCase((int)ft5_status.FT5_ERR_NOT_SUPPORTED, typeof(Ft5NotSupportedException))]
    [TestCase((int)ft5_status.FT5_ERR_INTERNAL, typeof(Ft5InternalException))]
    public void EachStatusMapsToItsExceptionWithTheNativeMessage(int code, Type expected)
    {
        var status = (ft5_status)code;
        // A real failure sets the thread's last error; Check must read exactly that message.
        ft5_device_desc desc = default;
        ft5_device* device = null;
        Assert.That(Ft5Native.ft5_device_create(&desc, &device), Is.EqualTo(ft5_status.FT5_ERR_INVALID_ARGUMENT));
        var native = Ft5Status.LastError();
        Assert.That(native, Does.Contain("struct_size"));

        var e = Assert.Throws(expected, () => Ft5Status.Check(status, "ft5_example"))!;
        var ft5 = (Ft5Exception)e;
        Assert.Multiple(() =>
        {
            Assert.That(ft5.Status, Is.EqualTo((Ft5StatusCode)status));
            Assert.That(ft5.NativeMessage, Is.EqualTo(native));
            Assert.That(ft5.Function, Is.EqualTo("ft5_example"));
            Assert.That(ft5.Message, Does.Contain(native).And.Contain("ft5_example"));
        });
    }

    [Test]
    public void OkDoesNotThrowAndAnUnknownCodeStillThrows()
    {
        Assert.DoesNotThrow(() => Ft5Status.Check(ft5_status.FT5_OK, "ft5_example"));
        var e = Assert.Throws<Ft5Exception>(() => Ft5Status.Check((ft5_status)99, "ft5_example"))!;
        Assert.That((int)e.Status, Is.EqualTo(99));
    }

    [Test]
    public void EveryStatusHasAPublicCode()
    {
        Assert.That(Enum.GetValues<ft5_status>().Select(s => (int)s), Is.EqualTo(Enum.GetValues<Ft5StatusCode>().Select(s => (int)s)));
    }

    [Test]
    public void RealFailuresRaiseTheirTypes()
    {
        var invalid = Assert.Throws<Ft5InvalidArgumentException>(CreateDeviceFromZeroedDescriptor)!;
        Assert.That(invalid.NativeMessage, Does.Contain("desc->struct_size is 0"));

        // A pointer that is no live device is detected by the handle registry, never dereferenced.
        var handle = Assert.Throws<Ft5InvalidHandleException>(ResetPeaksOfSomethingThatIsNoDevice)!;
        Assert.That(handle.NativeMessage, Does.Contain("device"));

        // The emulator build (what the tests load) has the emulator backend only and says where the others are.
        Assert.That(IpuDevice.IsAvailable(IpuBackend.Emulator), Is.True);
        foreach (var (backend, name) in new[] { (IpuBackend.Poplar, "poplar"), (IpuBackend.IpuModel, "ipu-model") })
        {
            Assert.That(IpuDevice.IsAvailable(backend), Is.False, name);
            var unavailable = Assert.Throws<Ft5BackendUnavailableException>(
                () => IpuDevice.Open(new IpuDeviceOptions { Backend = backend }))!;
            Assert.That(unavailable.NativeMessage, Does.Contain($"backend {name} is not in this build").And.Contain("FT5_NATIVE_PATH"));
        }
    }

    [Test]
    public void PublicEnumsMirrorTheNativeOnes()
    {
        Assert.Multiple(() =>
        {
            AssertMirror<ft5_backend, IpuBackend>();
            AssertMirror<ft5_dtype, TensorDataType>();
            AssertMirror<ft5_memory_location, MemoryLocation>();
            AssertMirror<ft5_ffn_kind, FeedForwardKind>();
            AssertMirror<ft5_embedding_layout, EmbeddingLayout>();
            AssertMirror<ft5_pipeline_schedule, PipelineSchedule>();
            AssertMirror<ft5_param_slot, ParameterSlot>();
        });
    }

    private static void CreateDeviceFromZeroedDescriptor()
    {
        ft5_device_desc bad = default;
        ft5_device* device = null;
        Ft5Native.Checked.ft5_device_create(&bad, &device);
    }

    private static void ResetPeaksOfSomethingThatIsNoDevice()
    {
        long notADevice = 0;
        Ft5Native.Checked.ft5_device_reset_peaks((ft5_device*)&notADevice);
    }

    private static void AssertMirror<TNative, TPublic>() where TNative : struct, Enum where TPublic : struct, Enum =>
        Assert.That(Enum.GetValues<TPublic>().Select(v => Convert.ToInt64(v)),
            Is.EqualTo(Enum.GetValues<TNative>().Select(v => Convert.ToInt64(v))), typeof(TPublic).Name);
}
