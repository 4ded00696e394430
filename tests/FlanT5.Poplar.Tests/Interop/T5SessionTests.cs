using System.Runtime.InteropServices;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>
/// T5Session over the ft5_session_* exports on the emulator, with the tiny fixture geometry. Where the library does not
/// export the session functions yet (a branch without the model), these are inconclusive, not passed.
/// </summary>
[TestFixture]
public class T5SessionTests
{
    // fixtures/flan-t5-tiny/config.json
    private static ModelDescription Tiny => new()
    {
        VocabSize = 2176, DModel = 64, DKv = 16, DFf = 128, NumHeads = 4, NumLayers = 2, NumDecoderLayers = 2,
        RelativeAttentionNumBuckets = 32, RelativeAttentionMaxDistance = 128, LayerNormEpsilon = 1e-6f,
        FeedForward = FeedForwardKind.GatedGelu, TieWordEmbeddings = false, EmbeddingLayout = EmbeddingLayout.Shared,
    };

    private static IpuDeviceOptions Device => new() { NumThreads = 1 };

    private static void RequireSessionExports()
    {
        var library = NativeLibrary.Load(Ft5Native.LibraryName, typeof(Ft5Native).Assembly, null);
        Assume.That(NativeLibrary.TryGetExport(library, "ft5_session_create", out _), Is.True,
            "libft5.so does not export ft5_session_create in this build");
    }

    [Test]
    public void ParametersUseHuggingFaceNamesAndShapes()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        var byName = session.Parameters.ToDictionary(p => p.Name);

        Assert.Multiple(() =>
        {
            Assert.That(byName["shared.weight"].Shape, Is.EqualTo(new long[] { 2176, 64 }));
            Assert.That(byName["lm_head.weight"].Shape, Is.EqualTo(new long[] { 2176, 64 }));
            Assert.That(byName["encoder.block.0.layer.0.SelfAttention.q.weight"].Shape, Is.EqualTo(new long[] { 64, 64 }));
            Assert.That(byName["decoder.block.1.layer.2.DenseReluDense.wi_0.weight"].Shape, Is.EqualTo(new long[] { 128, 64 }));
            Assert.That(byName["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].Shape,
                Is.EqualTo(new long[] { 32, 4 }));
            Assert.That(byName.ContainsKey("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"), Is.False);
            Assert.That(byName["encoder.final_layer_norm.weight"].NoWeightDecay, Is.True);
            Assert.That(byName["shared.weight"].NoWeightDecay, Is.False);
            Assert.That(session.Parameters.Select(p => p.Index), Is.EqualTo(Enumerable.Range(0, session.Parameters.Count)));
            // One IPU: one shard each; shard_dim still names the dimension tensor parallelism splits (HELPERS contract).
            Assert.That(session.Parameters.All(p => p.ShardCount == 1), Is.True);
            Assert.That(byName["encoder.block.0.layer.0.SelfAttention.q.weight"].ShardDim, Is.EqualTo(0));
            Assert.That(byName["encoder.block.0.layer.0.SelfAttention.o.weight"].ShardDim, Is.EqualTo(1));
            Assert.That(byName["shared.weight"].ShardDim, Is.EqualTo(0));
            Assert.That(byName["encoder.final_layer_norm.weight"].ShardDim, Is.EqualTo(-1));
        });
    }

    [Test]
    public void PreparedShapesCompileTheEngineOnceAndTheirCallsCompileNothing()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        Assert.That((session.ProgramsBuilt, session.EngineCompilations), Is.EqualTo((1, 1)));
        session.Prepare([ProgramShape.Batch(2, 3, 2, training: true), ProgramShape.Decode(2, 3, 4)]);
        Assert.That((session.ProgramsBuilt, session.EngineCompilations), Is.EqualTo((3, 2)));

        var batch = new TokenBatch(2, 3, 2, inputIds: new[] { 5, 6, 1, 7, 1, 0 }, decoderInputIds: new[] { 0, 9, 0, 10 },
            labels: new[] { 9, 1, 10, 1 }, training: true);
        session.ZeroGradients();
        Assert.That(float.IsFinite(session.ForwardBackward(batch, 1f)), Is.True);
        session.DecodeBegin(new[] { 5, 6, 1, 7, 1, 0 }, [], 2, 3, 4);
        session.DecodeEnd();
        Assert.That((session.ProgramsBuilt, session.EngineCompilations), Is.EqualTo((3, 2)), "nothing new was compiled");

        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => session.Prepare([ProgramShape.Batch(0, 3, 2)]))!;
        Assert.That(bad.ParamName, Is.EqualTo("shapes[0].BatchSize"));
    }

    [Test]
    public void FindWriteAndReadAParameter()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        const string name = "decoder.final_layer_norm.weight";
        var index = session.Find(name);
        Assert.That(session.Parameters[index].Name, Is.EqualTo(name));

        var values = Enumerable.Range(0, 64).Select(i => i * 0.5f - 3f).ToArray();
        session.Write(name, ParameterSlot.Weight, values);
        var back = new float[64];
        session.Read(index, ParameterSlot.Weight, back);
        Assert.That(back, Is.EqualTo(values));

        var missing = Assert.Throws<Ft5InvalidArgumentException>(() => session.Find("encoder.no.such.weight"))!;
        Assert.That(missing.NativeMessage, Does.Contain("encoder.no.such.weight"));
        Assert.Throws<Ft5InvalidArgumentException>(() => session.Write(index, ParameterSlot.Weight, new float[63]));
    }

    [Test]
    public void AWeightsOnlySessionRunsForwardAndRefusesTraining()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny, new PlanDescription { WeightsOnly = true });
        var batch = new TokenBatch(1, 2, 2, inputIds: new[] { 5, 1 }, decoderInputIds: new[] { 0, 9 }, labels: new[] { 9, 1 });
        Assert.That(session.Forward(batch), Is.Not.Null);
        var p = session.Parameters[0];
        Assert.That(() => session.ForwardBackward(batch, 1.0f), Throws.InstanceOf<Ft5NotSupportedException>().With.Message.Contains("weights-only"));
        Assert.That(() => session.Read(p.Index, ParameterSlot.AdamM, new float[p.ElementCount]),
            Throws.InstanceOf<Ft5NotSupportedException>().With.Message.Contains("weights-only"));
    }

    [Test]
    public void ForwardReturnsAFiniteLossAndFillsTheOutputs()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        var random = new Random(3);
        foreach (var p in session.Parameters)
        {
            var w = new float[p.ElementCount];
            for (var i = 0; i < w.Length; i++) w[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
            session.Write(p.Index, ParameterSlot.Weight, w);
        }
        var batch = new TokenBatch(2, 3, 2, inputIds: new[] { 5, 6, 1, 7, 1, 0 }, decoderInputIds: new[] { 0, 9, 0, 10 },
            attentionMask: new[] { 1, 1, 1, 1, 1, 0 }, labels: new[] { 9, 1, 10, -100 });
        var logits = new float[2 * 2 * 2176];
        var hidden = new float[2 * 3 * 64];

        var loss = session.Forward(batch, logits, hidden);

        Assert.That(loss, Is.Not.Null);
        Assert.That(float.IsFinite(loss!.Value) && loss.Value > 0, Is.True, $"loss {loss}");
        Assert.That(logits.Any(v => v != 0) && hidden.Any(v => v != 0), Is.True);
        Assert.That(session.Forward(new TokenBatch(2, 3, 2, new[] { 5, 6, 1, 7, 1, 0 }, new[] { 0, 9, 0, 10 })), Is.Null);
    }

    [Test]
    public void DecodeStepTakesOneTokenPerRowAndTheLibraryChecksTheCount()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        var logits = new float[2 * 2176];
        session.DecodeBegin(new[] { 5, 6, 1, 7, 1, 0 }, new[] { 1, 1, 1, 1, 1, 0 }, 2, 3, 4);
        var wrapper = Assert.Throws<ArgumentException>(() => session.DecodeStep(new[] { 0 }, logits));
        Assert.That(wrapper!.Message, Does.Contain("tokens has 1 elements").And.Contain("2 row(s)"));
        session.DecodeStep(new[] { 0, 0 }, logits);
        Assert.That(logits.All(float.IsFinite), Is.True);
        // Past the wrapper, libft5 checks the count itself (ft5_session_decode_step_v2, ABI 1.1).
        var tokens = new[] { 0, 0, 0 };
        var native = Assert.Throws<Ft5InvalidArgumentException>(() => StepWithCount(session, tokens, 3, logits));
        Assert.That(native!.Message, Does.Contain("token_count is 3; expected one token per row of the decode, 2"));
        session.DecodeEnd();
    }

    private static unsafe void StepWithCount(T5Session session, int[] tokens, int count, float[] logits)
    {
        using var lease = session.Acquire();
        fixed (int* t = tokens)
        fixed (float* l = logits)
            Ft5Native.Checked.ft5_session_decode_step_v2(lease.Pointer, t, (nuint)count, l, (nuint)logits.Length);
    }

    [Test]
    public void RngStateRoundTrips()
    {
        RequireSessionExports();
        using var device = IpuDevice.Open(Device);
        using var session = T5Session.Create(device, Tiny);
        session.RngState = 0x1234_5678_9ABC_DEF0UL;
        Assert.That(session.RngState, Is.EqualTo(0x1234_5678_9ABC_DEF0UL));
    }

    [Test]
    public void ASessionOutlivesItsDisposedDeviceAndRejectsUseAfterDispose()
    {
        RequireSessionExports();
        var device = IpuDevice.Open(Device);
        var session = T5Session.Create(device, Tiny);
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => T5Session.Create(device, Tiny));

        session.ZeroGradients();
        session.Dispose();
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.ZeroGradients());
        Assert.Throws<ObjectDisposedException>(() => session.Find("shared.weight"));
    }

    [Test]
    public void TokenBatchRejectsArraysOfTheWrongLength()
    {
        var e = Assert.Throws<ArgumentException>(() => new TokenBatch(2, 3, 2, new int[6], new int[4], labels: new int[5]))!;
        Assert.That(e.Message, Does.Contain("Labels").And.Contain("2 x 2 = 4"));
        Assert.Throws<ArgumentException>(() => new TokenBatch(2, 3, 2, new int[5], new int[4]));
    }
}
