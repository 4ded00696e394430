#include "t5/micro_batch_stash.h"

#include <stdexcept>
#include <utility>

#include <popops/DynamicSlice.hpp>
#include <popops/ElementWise.hpp>

namespace ft5::t5 {

MicroBatchStash::MicroBatchStash(Stages& stages, std::string name) : stages_(stages), name_(std::move(name)) {}

std::size_t MicroBatchStash::addLane(std::size_t stage, const std::vector<poplar::Tensor>& tensors, unsigned depth) {
    if (allocated_) throw std::logic_error(name_ + ": a lane added after the stash was used");
    Lane lane{stage, depth, {}};
    for (const poplar::Tensor& k : tensors) {
        if (!k.valid() || k.numElements() == 0) continue;
        bool held = false;
        for (const Group& g : lane.groups) {
            for (const poplar::Tensor& t : g.tensors) {
                if (!t.intersectsWith(k)) continue;
                // a view of the same elements (a reshape, the same tensor twice) is stashed once
                if (t.numElements() != k.numElements())
                    throw std::logic_error(name_ + ": a stashed tensor overlaps another in part");
                held = true;
            }
        }
        if (held) continue;
        if (!k.isParallelWriteable()) throw std::logic_error(name_ + ": a stashed tensor cannot be restored");
        Group* group = nullptr;
        for (Group& g : lane.groups)
            if (g.type == k.elementType()) group = &g;
        if (!group) {
            lane.groups.push_back(Group{k.elementType(), {}, {}, 0, {}});
            group = &lane.groups.back();
        }
        group->tensors.push_back(k);
        group->offsets.push_back(group->elements);
        group->elements += k.numElements();
    }
    lanes_.push_back(std::move(lane));
    return lanes_.size() - 1;
}

void MicroBatchStash::allocate() {
    if (allocated_) return;
    allocated_ = true;
    for (std::size_t l = 0; l < lanes_.size(); ++l) {
        Lane& lane = lanes_[l];
        for (std::size_t i = 0; i < lane.groups.size(); ++i)
            lane.groups[i].stash = stages_.graph(lane.stage).addVariable(
                lane.groups[i].type, {lane.depth, lane.groups[i].elements}, poplar::VariableMappingMethod::LINEAR,
                name_ + "/stage" + std::to_string(lane.stage) + "_lane" + std::to_string(l) + "_" + std::to_string(i));
    }
}

poplar::Tensor MicroBatchStash::row(const Group& g) {
    std::vector<poplar::Tensor> flat;
    for (const poplar::Tensor& t : g.tensors) flat.push_back(t.flatten());
    return poplar::concat(flat).expand({0});
}

poplar::Tensor MicroBatchStash::slot(const Lane& lane, const poplar::Tensor& micro_batch,
                                     poplar::program::Sequence& prog) {
    namespace pe = popops::expr;
    return popops::map(stages_.graph(lane.stage), pe::Rem(pe::_1, pe::Const(lane.depth)), {micro_batch}, prog,
                       name_ + "/slot");
}

void MicroBatchStash::save(std::size_t l, const poplar::Tensor& micro_batch, poplar::program::Sequence& prog) {
    allocate();
    const Lane& lane = lanes_.at(l);
    if (lane.groups.empty()) return;
    const poplar::Tensor at = slot(lane, micro_batch, prog);
    for (const Group& g : lane.groups)
        popops::dynamicUpdate(stages_.graph(lane.stage), g.stash, row(g), at, {0}, {1}, prog, name_ + "/save");
}

void MicroBatchStash::restore(std::size_t l, const poplar::Tensor& micro_batch, poplar::program::Sequence& prog) {
    allocate();
    const Lane& lane = lanes_.at(l);
    if (lane.groups.empty()) return;
    const poplar::Tensor at = slot(lane, micro_batch, prog);
    // straight into the tensors: no slot-sized copy in between
    for (const Group& g : lane.groups)
        popops::dynamicSliceWithOutput(stages_.graph(lane.stage), row(g), g.stash, at, {0}, {1}, prog,
                                       name_ + "/restore");
}

void MicroBatchStash::restore(std::size_t l, const std::vector<poplar::Tensor>& tensors,
                              const poplar::Tensor& micro_batch, poplar::program::Sequence& prog) {
    allocate();
    const Lane& lane = lanes_.at(l);
    poplar::Tensor at;
    for (const Group& g : lane.groups)
        for (std::size_t i = 0; i < g.tensors.size(); ++i) {
            bool asked = false;
            for (const poplar::Tensor& t : tensors) asked = asked || g.tensors[i].intersectsWith(t);
            if (!asked) continue;
            if (!at.valid()) at = slot(lane, micro_batch, prog);
            restoreTensor(lane, g, i, at, prog);
        }
}

void MicroBatchStash::restoreTensor(const Lane& lane, const Group& g, std::size_t i, const poplar::Tensor& at,
                                    poplar::program::Sequence& prog) {
    const std::size_t n = g.tensors[i].numElements();
    const poplar::Tensor column = g.stash.slice(g.offsets[i], g.offsets[i] + n, 1);
    popops::dynamicSliceWithOutput(stages_.graph(lane.stage), g.tensors[i].flatten().expand({0}), column, at, {0}, {1},
                                   prog, name_ + "/restore");
}

void MicroBatchStash::undefine(poplar::program::Sequence& prog) {
    allocate();
    for (const Lane& lane : lanes_)
        for (const Group& g : lane.groups) prog.add(poplar::program::WriteUndef(g.stash));
}

}  // namespace ft5::t5
