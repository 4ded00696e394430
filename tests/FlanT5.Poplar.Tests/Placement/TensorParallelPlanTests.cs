using System.Text.Json.Nodes;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class TensorParallelPlanTests
{
    private static JsonObject HubKeys(string model)
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "flan_t5_state_dict_keys.json");
        return JsonNode.Parse(File.ReadAllText(path))![model]!.AsObject();
    }

    [TestCase("small")]
    [TestCase("base")]
    [TestCase("large")]
    [TestCase("xl")]
    [TestCase("xxl")]
    public void TpOneMatchesTheHubStateDict(string size)
    {
        var hub = HubKeys($"flan-t5-{size}");
        var model = T5ModelConfig.FlanT5(size);
        var plan = TensorParallelPlan.Build(model, PlacementPlan.Create(model));
        // The hub state dict also lists the embed_tokens aliases of shared.weight; the SHARED session layout has not.
        var expected = hub["state_dict"]!.AsArray()
            .Select(e => (Name: e![0]!.GetValue<string>(), Shape: e[1]!.AsArray().Select(x => x!.GetValue<long>()).ToArray()))
            .Where(e => !e.Name.EndsWith("embed_tokens.weight", StringComparison.Ordinal))
            .ToDictionary(e => e.Name, e => e.Shape);
        Assert.That(plan.Parameters.Select(p => p.Name), Is.EquivalentTo(expected.Keys));
        foreach (var p in plan.Parameters)
        {
            Assert.That(p.Shape, Is.EqualTo(expected[p.Name]), p.Name);
            Assert.That(p.ShardShape, Is.EqualTo(p.Shape), p.Name);
        }
        Assert.That(plan.Parameters.Sum(p => p.Elements), Is.EqualTo(hub["parameters"]!.GetValue<long>()));
        Assert.That(plan.Parameters.Sum(p => p.Elements), Is.EqualTo(model.ParameterCount()));
    }

    [Test]
    public void ShardDimsFollowTheSessionContract()
    {
        var model = T5ModelConfig.FlanT5("xxl");
        var plan = TensorParallelPlan.Build(model, PlacementPlan.Create(model, tensorParallel: 16));
        void Check(string name, int dim, long[] shard)
        {
            var p = plan.Find(name);
            Assert.That(p.ShardDim, Is.EqualTo(dim), name);
            Assert.That(p.ShardShape, Is.EqualTo(shard), name);
            Assert.That(p.ShardCount, Is.EqualTo(dim < 0 ? 1 : 16), name);
        }
        Check("encoder.block.3.layer.0.SelfAttention.q.weight", 0, [256, 4096]);
        Check("encoder.block.3.layer.0.SelfAttention.v.weight", 0, [256, 4096]);
        Check("encoder.block.3.layer.0.SelfAttention.o.weight", 1, [4096, 256]);
        Check("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 1, [32, 4]);
        Check("decoder.block.5.layer.1.EncDecAttention.k.weight", 0, [256, 4096]);
        Check("decoder.block.5.layer.2.DenseReluDense.wi_1.weight", 0, [640, 4096]);
        Check("decoder.block.5.layer.2.DenseReluDense.wo.weight", 1, [4096, 640]);
        Check("decoder.block.5.layer.2.layer_norm.weight", -1, [4096]);
        Check("shared.weight", 0, [2008, 4096]);
        Check("lm_head.weight", 0, [2008, 4096]);
        Assert.That(plan.Find("shared.weight").PaddedDim, Is.EqualTo(32128));
        Assert.That(plan.Find("decoder.final_layer_norm.weight").NoWeightDecay, Is.True);
        Assert.That(plan.Find("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight").NoWeightDecay, Is.True);
        Assert.That(plan.Find("lm_head.weight").NoWeightDecay, Is.False);
        Assert.Throws<KeyNotFoundException>(() => plan.Find("encoder.embed_tokens.weight"));
    }

    [Test]
    public void VocabIsPaddedToAMultipleOfTheTpDegree()
    {
        Assert.That(TensorParallelPlan.PadVocab(32128, 16), Is.EqualTo(32128));
        Assert.That(TensorParallelPlan.PadVocab(32128, 3), Is.EqualTo(32130));
        Assert.That(TensorParallelPlan.PadVocab(2176, 5), Is.EqualTo(2180));
        // The reference's checkpoint layout: shards of 16·ceil(ceil(V/tp)/16) rows.
        Assert.That(TensorParallelPlan.PadVocab(32128, 16, shardRowAlignment: 16), Is.EqualTo(32256));
        Assert.That(TensorParallelPlan.PadVocab(32128, 8, shardRowAlignment: 16), Is.EqualTo(8 * 4016));
        var model = T5ModelConfig.FlanT5("small") with { DFf = 1536 };   // 6 heads, d_ff divisible by 3
        var plan = TensorParallelPlan.Build(model, PlacementPlan.Create(model, tensorParallel: 3), EmbeddingLayout.Separate);
        var embed = plan.Find("decoder.embed_tokens.weight");
        Assert.That(embed.PaddedDim, Is.EqualTo(32130));
        Assert.That(embed.ShardShape, Is.EqualTo(new long[] { 10710, 512 }));
        Assert.That(embed.Shape, Is.EqualTo(new long[] { 32128, 512 }));
        Assert.Throws<KeyNotFoundException>(() => plan.Find("shared.weight"));
    }

    [Test]
    public void StagesHoldTheirLayersAndTheEnds()
    {
        var model = T5ModelConfig.FlanT5("xl");
        var plan = TensorParallelPlan.Build(model, PlacementPlan.Create(model, tensorParallel: 2, pipelineStages: 4));
        Assert.That(plan.Find("shared.weight").Stages, Is.EqualTo(new[] { 0 }));
        Assert.That(plan.Find("encoder.block.11.layer.1.DenseReluDense.wo.weight").Stages, Is.EqualTo(new[] { 0 }));
        Assert.That(plan.Find("encoder.block.12.layer.1.DenseReluDense.wo.weight").Stages, Is.EqualTo(new[] { 1 }));
        Assert.That(plan.Find("encoder.final_layer_norm.weight").Stages, Is.EqualTo(new[] { 1 }));
        Assert.That(plan.Find("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight").Stages, Is.EqualTo(new[] { 2 }));
        Assert.That(plan.Find("lm_head.weight").Stages, Is.EqualTo(new[] { 3 }));
        // A tied embedding doubles as the LM head: the last stage keeps a copy.
        var tied = model with { TieWordEmbeddings = true };
        var tiedPlan = TensorParallelPlan.Build(tied, PlacementPlan.Create(tied, pipelineStages: 4));
        Assert.That(tiedPlan.Find("shared.weight").Stages, Is.EqualTo(new[] { 0, 3 }));
        Assert.Throws<KeyNotFoundException>(() => tiedPlan.Find("lm_head.weight"));
    }
}
