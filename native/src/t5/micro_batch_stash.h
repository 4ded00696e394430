// A pipeline's micro-batches in flight, as a Poplar program keeps them: one copy of a micro-batch's pass (its
// graph code and activations) serves every micro-batch, and what a later piece of the pass reads waits in a stash
// on its stage, one slot per micro-batch in flight (dynamicUpdate / dynamicSlice at the micro-batch's number
// modulo the stash's depth). The stash has lanes, each a set of tensors of one stage that live alike: what the
// stage keeps for its own later segments, and what one of its segments sends to other stages.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/stages.h"

namespace ft5::t5 {

class MicroBatchStash {
public:
    MicroBatchStash(Stages& stages, std::string name);

    // A lane of `depth` slots for these tensors of `stage` (repeats, views of one another and invalid tensors are
    // dropped); returns its index. Every lane must be added before the first save or restore.
    std::size_t addLane(std::size_t stage, const std::vector<poplar::Tensor>& tensors, unsigned depth);
    // micro_batch: UNSIGNED_INT [1], the micro-batch's number.
    void save(std::size_t lane, const poplar::Tensor& micro_batch, poplar::program::Sequence& prog);
    void restore(std::size_t lane, const poplar::Tensor& micro_batch, poplar::program::Sequence& prog);
    // Restores the tensors of a lane that those given overlap.
    void restore(std::size_t lane, const std::vector<poplar::Tensor>& tensors, const poplar::Tensor& micro_batch,
                 poplar::program::Sequence& prog);
    // Marks every slot undefined (WriteUndef): the stash lives from the program's start, not across programs.
    void undefine(poplar::program::Sequence& prog);

private:
    // The tensors of one element type of a lane, flattened side by side into one row of the stash.
    struct Group {
        poplar::Type type;
        std::vector<poplar::Tensor> tensors;
        std::vector<std::size_t> offsets;  // of each tensor in the row
        std::size_t elements = 0;
        poplar::Tensor stash;  // [depth, elements], made when first used
    };
    struct Lane {
        std::size_t stage = 0;
        unsigned depth = 1;
        std::vector<Group> groups;
    };
    void allocate();
    // A group's tensors as one row [1, elements], in the stash's order.
    static poplar::Tensor row(const Group& g);
    poplar::Tensor slot(const Lane& lane, const poplar::Tensor& micro_batch, poplar::program::Sequence& prog);
    void restoreTensor(const Lane& lane, const Group& g, std::size_t i, const poplar::Tensor& at,
                       poplar::program::Sequence& prog);

    Stages& stages_;
    std::string name_;
    std::vector<Lane> lanes_;
    bool allocated_ = false;
};

}  // namespace ft5::t5
