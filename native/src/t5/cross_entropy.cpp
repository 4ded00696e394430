#include "t5/cross_entropy.h"

#include <limits>
#include <numeric>
#include <vector>

#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>

namespace ft5::t5 {

namespace pe = popops::expr;

CrossEntropy crossEntropy(poplar::Graph& graph, const poplar::Tensor& logits, const poplar::Tensor& labels,
                          bool with_gradient, poplar::program::Sequence& prog, bool mean_gradient,
                          const ReplicaGroups& groups, std::size_t vocab) {
    const std::size_t shard = logits.dim(1);
    std::vector<int> ids(shard);
    std::iota(ids.begin(), ids.end(), 0);
    const poplar::Tensor shard_ids = graph.addConstant<int>(poplar::INT, {1, shard}, ids, "loss/vocab_ids");
    graph.setTileMapping(shard_ids, 0);

    // the labels as columns of this rank's shard (another rank's label matches no column)
    poplar::Tensor label = labels.expand({1});  // [rows, 1]
    poplar::Tensor valid;                       // FLOAT [1, shard]: 1 on real tokens, 0 on the padding (if any)
    if (groups.tp() > 1) {
        const poplar::Tensor offset = groups.shardOffset(shard, prog, "loss/shard_offset");
        label = popops::map(graph, pe::_1 - pe::_2, {label, offset}, prog, "loss/shard_label");
        if (groups.plan().paddedVocab(vocab) != vocab)
            valid = popops::map(graph, pe::Cast(pe::Lt(pe::_1 + pe::_2, pe::Const(int(vocab))), poplar::FLOAT),
                                {shard_ids, offset}, prog, "loss/valid");
    }
    const poplar::Tensor real_logits =
        valid.valid() ? popops::map(graph, pe::Select(pe::_1, pe::Const(std::numeric_limits<float>::lowest()),
                                                      pe::Cast(pe::_2, poplar::BOOL)),
                                    {logits, valid}, prog, "loss/real_logits")
                      : logits;
    const poplar::Tensor max = popops::reduce(graph, real_logits, poplar::FLOAT, {1}, popops::Operation::MAX, prog,
                                              "loss/max")
                                   .expand({1});
    groups.maxOverShards(max, prog, "loss/max_shards");
    const poplar::Tensor exp = popops::map(graph, pe::Exp(pe::_1 - pe::_2), {real_logits, max}, prog, "loss/exp");
    const poplar::Tensor sum =
        popops::reduce(graph, exp, poplar::FLOAT, {1}, popops::Operation::ADD, prog, "loss/sum_exp").expand({1});
    groups.sumOverShards(sum, prog, "loss/sum_exp_shards");
    const poplar::Tensor one_hot =
        popops::map(graph, pe::Cast(pe::Equal(pe::_1, pe::_2), poplar::FLOAT), {label, shard_ids}, prog, "loss/one_hot");
    const poplar::Tensor target = popops::reduce(graph, popops::mul(graph, one_hot, logits, prog, "loss/pick"),
                                                 poplar::FLOAT, {1}, popops::Operation::ADD, prog, "loss/target")
                                      .expand({1});
    groups.sumOverShards(target, prog, "loss/target_shards");
    const poplar::Tensor counted =
        popops::map(graph, pe::Cast(pe::NotEqual(pe::_1, pe::Const(kIgnoreLabel)), poplar::FLOAT), {labels.expand({1})},
                    prog, "loss/counted");  // [rows, 1]
    const poplar::Tensor count =
        popops::reduce(graph, counted, poplar::FLOAT, {0, 1}, popops::Operation::ADD, prog, "loss/count");
    groups.sumOverData(count, prog, "loss/count_data");
    // per row: log(sum exp(l - max)) + max - l[label]
    const poplar::Tensor row_loss = popops::map(graph, pe::_1 * (pe::Log(pe::_2) + pe::_3 - pe::_4),
                                                {counted, sum, max, target}, prog, "loss/row");
    const poplar::Tensor total =
        popops::reduce(graph, row_loss, poplar::FLOAT, {0, 1}, popops::Operation::ADD, prog, "loss/total");
    groups.sumOverData(total, prog, "loss/total_data");
    CrossEntropy out;
    out.loss = popops::div(graph, total, count, prog, "loss/mean");
    out.total = total;
    out.count = count;
    if (with_gradient && !mean_gradient) {
        // (softmax - one_hot) on counted rows
        out.d_logits = popops::map(graph, (pe::_1 / pe::_2 - pe::_3) * pe::_4, {exp, sum, one_hot, counted}, prog,
                                   "loss/d_logits");
    } else if (with_gradient) {
        // (softmax - one_hot) / count on counted rows
        out.d_logits = popops::map(graph, (pe::_1 / pe::_2 - pe::_3) * (pe::_4 / pe::_5),
                                   {exp, sum, one_hot, counted, count.reshape({1, 1})}, prog, "loss/d_logits");
    }
    return out;
}

}  // namespace ft5::t5
