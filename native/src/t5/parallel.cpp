#include "t5/parallel.h"

#include <stdexcept>

#include <gcl/Collectives.hpp>
#include <popops/ElementWise.hpp>

namespace ft5::t5 {

namespace pe = popops::expr;

void ParallelPlan::validate(const T5Config& config) const {
    if (tp == 0) throw std::invalid_argument("parallel plan: tp (tensor-parallel ranks) must be positive, got 0");
    if (dp == 0) throw std::invalid_argument("parallel plan: dp (data-parallel groups) must be positive, got 0");
    auto divides = [&](std::size_t value, const char* field) {
        if (value % tp != 0)
            throw std::invalid_argument("parallel plan: tp " + std::to_string(tp) + " must divide the T5 config's " +
                                        field + " (" + std::to_string(value) + ")");
    };
    divides(config.heads, "num_heads");
    divides(config.d_ff, "d_ff");
    if (precision.mitigations.any() && !precision.half)
        throw std::invalid_argument("parallel plan: fp16 mitigations need the HALF precision");
    if (precision.mitigations.any() && trains)
        throw std::invalid_argument(
            "parallel plan: fp16 mitigations change the forward pass and decoding of a session that does not train "
            "(weights only); a training session runs as the reference fine-tune did, without them");
    if (pp == 0) throw std::invalid_argument("parallel plan: pp (pipeline stages) must be positive, got 0");
    if (pp == 1) return;
    auto stages = [&](const std::vector<std::size_t>& stage, std::size_t layers, const char* field) {
        if (stage.size() != layers)
            throw std::invalid_argument("parallel plan: " + std::string(field) + " has " +
                                        std::to_string(stage.size()) + " entries; the T5 config has " +
                                        std::to_string(layers) + " blocks");
        for (std::size_t i = 0; i < layers; ++i)
            if (stage[i] >= pp || (i > 0 && stage[i] < stage[i - 1]))
                throw std::invalid_argument("parallel plan: " + std::string(field) + "[" + std::to_string(i) +
                                            "] is " + std::to_string(stage[i]) +
                                            "; expected a stage below pp = " + std::to_string(pp) +
                                            ", no earlier than the block before it");
    };
    stages(encoder_stage, config.encoder_layers, "encoder_stage");
    stages(decoder_stage, config.decoder_layers, "decoder_stage");
}

ReplicaGroups::ReplicaGroups(poplar::Graph& graph, const ParallelPlan& plan) : graph_(graph), plan_(plan) {
    if (graph.getReplicationFactor() != plan.replicas())
        throw std::invalid_argument("parallel plan: tp x dp = " + std::to_string(plan.replicas()) +
                                    " replicas, but the graph's replication factor is " +
                                    std::to_string(graph.getReplicationFactor()));
    if (plan.tp > 1) replica_index_ = graph.addReplicationIndexConstant("replica_index");
}

void ReplicaGroups::sumOverShards(const poplar::Tensor& t, poplar::program::Sequence& prog,
                                  const std::string& name) const {
    if (plan_.tp == 1) return;
    gcl::allReduceInPlaceCrossReplica(graph_, t, gcl::ADD, prog,
                                      gcl::CommGroup(gcl::CONSECUTIVE, unsigned(plan_.tp)), name);
}

void ReplicaGroups::maxOverShards(const poplar::Tensor& t, poplar::program::Sequence& prog,
                                  const std::string& name) const {
    if (plan_.tp == 1) return;
    gcl::allReduceInPlaceCrossReplica(graph_, t, gcl::MAX, prog,
                                      gcl::CommGroup(gcl::CONSECUTIVE, unsigned(plan_.tp)), name);
}

void ReplicaGroups::sumOverData(const poplar::Tensor& t, poplar::program::Sequence& prog,
                                const std::string& name) const {
    if (plan_.dp == 1) return;
    // ORTHOGONAL groups of dp replicas: {k, k + tp, k + 2 tp, ...}, the replicas of shard k
    gcl::allReduceInPlaceCrossReplica(graph_, t, gcl::ADD, prog,
                                      gcl::CommGroup(gcl::ORTHOGONAL, unsigned(plan_.dp)), name);
}

void ReplicaGroups::maxOverAll(const poplar::Tensor& t, poplar::program::Sequence& prog,
                               const std::string& name) const {
    if (plan_.replicas() == 1) return;
    gcl::allReduceInPlaceCrossReplica(graph_, t, gcl::MAX, prog, gcl::CommGroup(gcl::ALL, 0), name);
}

poplar::Tensor ReplicaGroups::shardOffset(std::size_t rows, poplar::program::Sequence& prog,
                                          const std::string& name) const {
    if (plan_.tp == 1) throw std::logic_error("shardOffset: " + name + " asks for a shard without tensor parallelism");
    return popops::map(graph_, pe::Cast(pe::Rem(pe::_1, pe::Const(unsigned(plan_.tp))) * pe::Const(unsigned(rows)),
                                        poplar::INT),
                       {replica_index_}, prog, name);
}

ShardRows shardRows(poplar::Graph& graph, const ReplicaGroups& groups, const poplar::Tensor& ids,
                    std::size_t shard_rows, const poplar::Type& type, poplar::program::Sequence& prog,
                    const std::string& name) {
    const poplar::Tensor offset = groups.shardOffset(shard_rows, prog, name + "/offset");
    const poplar::Tensor local =
        popops::map(graph, pe::Cast(pe::_1, poplar::INT) - pe::_2, {ids, offset}, prog, name + "/local");
    const auto owned = pe::And(pe::Gte(pe::_1, pe::Const(0)), pe::Lt(pe::_1, pe::Const(int(shard_rows))));
    ShardRows out;
    out.owned = popops::map(graph, pe::Cast(owned, type), {local}, prog, name + "/owned");
    out.rows = popops::map(graph, pe::Cast(pe::Select(pe::_1, pe::Const(0), owned), poplar::UNSIGNED_INT), {local},
                           prog, name + "/rows");
    return out;
}

}  // namespace ft5::t5
