using System.Text.Json.Nodes;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class HfParameterMapTests
{
    private static JsonObject Sizes() =>
        (JsonObject)JsonNode.Parse(File.ReadAllText(CheckpointTestFiles.Fixture("flan_t5_state_dict_keys.json")))!;

    [TestCase("small")]
    [TestCase("base")]
    [TestCase("large")]
    [TestCase("xl")]
    [TestCase("xxl")]
    public void FullStateDictKeysMatchTheHubListExactly(string size)
    {
        var entry = (JsonObject)Sizes()[$"flan-t5-{size}"]!;
        var expected = entry["state_dict"]!.AsArray()
            .Select(k => (Name: k![0]!.GetValue<string>(), Shape: k[1]!.AsArray().Select(d => d!.GetValue<int>()).ToArray()))
            .ToList();
        var config = T5ModelConfig.FlanT5(size);
        var actual = HfParameterMap.FullStateDictKeys(config);
        Assert.That(actual.Select(k => k.Name), Is.EqualTo(expected.Select(k => k.Name)), "names in state-dict order");
        for (int i = 0; i < expected.Count; i++)
            Assert.That(actual[i].Shape, Is.EqualTo(expected[i].Shape), expected[i].Name);

        // The fixture's config.json parses to the same geometry.
        var parsed = T5ModelConfig.FromJson((JsonObject)entry["config"]!, size);
        Assert.That(HfParameterMap.FullStateDictKeys(parsed).Select(k => k.Name), Is.EqualTo(expected.Select(k => k.Name)));

        // The session parameters are the state dict modulo the aliases: SHARED drops both embed_tokens,
        // SEPARATE drops shared.weight; both count the hub's parameter number (untied lm_head) in SHARED.
        var shared = HfParameterMap.Create(config, EmbeddingLayout.Shared);
        Assert.That(shared.Parameters.Select(p => p.Name),
            Is.EquivalentTo(expected.Select(k => k.Name).Where(n => !HfParameterMap.IsEmbeddingAlias(n))));
        Assert.That(shared.Parameters.Sum(p => p.ElementCount), Is.EqualTo(entry["parameters"]!.GetValue<long>()));
        Assert.That(config.ParameterCount(), Is.EqualTo(entry["parameters"]!.GetValue<long>()));
        var separate = HfParameterMap.Create(config, EmbeddingLayout.Separate);
        Assert.That(separate.Parameters.Select(p => p.Name),
            Is.EquivalentTo(expected.Select(k => k.Name).Where(n => n != HfParameterMap.SharedEmbedding)));
    }

    [Test]
    public void ShardDimsAndWeightDecayFollowTheContract()
    {
        var map = HfParameterMap.Create(T5ModelConfig.FlanT5("small"), EmbeddingLayout.Shared);
        int Dim(string name) => map[name].ShardDim;
        Assert.That(Dim("encoder.block.0.layer.0.SelfAttention.q.weight"), Is.EqualTo(0));
        Assert.That(Dim("decoder.block.3.layer.1.EncDecAttention.v.weight"), Is.EqualTo(0));
        Assert.That(Dim("encoder.block.0.layer.0.SelfAttention.o.weight"), Is.EqualTo(1));
        Assert.That(Dim("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), Is.EqualTo(1));
        Assert.That(Dim("decoder.block.1.layer.2.DenseReluDense.wi_1.weight"), Is.EqualTo(0));
        Assert.That(Dim("decoder.block.1.layer.2.DenseReluDense.wo.weight"), Is.EqualTo(1));
        Assert.That(Dim("shared.weight"), Is.EqualTo(0));
        Assert.That(Dim("lm_head.weight"), Is.EqualTo(0));
        Assert.That(Dim("decoder.final_layer_norm.weight"), Is.EqualTo(-1));
        Assert.That(map.Parameters.Where(p => p.NoWeightDecay).All(p => p.Name.Contains("norm") || p.Name.Contains("bias")));
        Assert.That(map["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].NoWeightDecay);
        Assert.That(map["shared.weight"].NoWeightDecay, Is.False);
        Assert.That(map.TryGet("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight", out _), Is.False, "block 0 only");
    }

    [Test]
    public void ReluAndTiedVariantsChangeTheKeys()
    {
        var config = T5ModelConfig.FlanT5("small") with { FeedForward = FeedForwardKind.Relu, TieWordEmbeddings = true };
        var names = HfParameterMap.FullStateDictKeys(config).Select(k => k.Name).ToList();
        Assert.That(names, Does.Contain("encoder.block.0.layer.1.DenseReluDense.wi.weight"));
        Assert.That(names, Has.None.Contains("wi_0"));
        Assert.That(names, Does.Not.Contain("lm_head.weight"));
    }
}
