// Training dropout as Hugging Face's T5 applies it (nn.Dropout: zero with probability p, scale the rest by
// 1/(1-p)), drawn by poprand from a seed tensor and a seed modifier of its own per site. The mask is a function of
// seed, modifier and element index only, so the backward pass regenerates it instead of storing it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parallel.h"

namespace ft5::t5 {

// Where one forward dropout was drawn: what the backward pass needs to regenerate its mask.
struct DropoutSite {
    bool active = false;
    std::uint32_t modifier = 0;
    bool replay = false;  // a forward pass recomputed: dropoutForward applies this site's mask again
};

class Dropout {
public:
    // rate in (0, 1); seed: UNSIGNED_INT [2], set by the step before the forward pass runs (the same on every
    // replica of a tensor-parallel group).
    Dropout(poplar::Graph& graph, float rate, const poplar::Tensor& seed, const ReplicaGroups& groups);

    // x with a fresh mask (each call is a new site, with the next modifier); site records it for backward. split:
    // x is this rank's shard of the activation (heads, d_ff), whose mask draws from the seed plus the rank in its
    // second word, so shards drop independently; a whole activation drops alike on every rank.
    poplar::Tensor forward(const poplar::Tensor& x, poplar::program::Sequence& prog, const std::string& name,
                           DropoutSite& site, bool split = false);

    // d(output) -> d(input): the same mask and scale applied to the gradient.
    poplar::Tensor backward(const poplar::Tensor& d_out, const DropoutSite& site, poplar::program::Sequence& prog,
                            const std::string& name) const;

    // Every forward site in the order drawn (its input and output), for tests and reports.
    struct Drawn {
        std::string name;
        poplar::Tensor input, output;
    };
    const std::vector<Drawn>& sites() const { return drawn_; }

private:
    const poplar::Tensor* seedOf(const DropoutSite& site) const;

    poplar::Graph& graph_;
    double keep_;
    poplar::Tensor seed_;
    const ReplicaGroups& groups_;
    std::map<std::uint32_t, poplar::Tensor> shard_seeds_;  // by modifier: split sites' seeds under tensor parallelism
    std::vector<Drawn> drawn_;
};

// A layer's dropout: identity where dropout is null (evaluation, decoding, or rate 0). A site marked replay keeps
// its mask (recomputation), any other draws a fresh one.
poplar::Tensor dropoutForward(Dropout* dropout, const poplar::Tensor& x, poplar::program::Sequence& prog,
                              const std::string& name, DropoutSite& site, bool split = false);
poplar::Tensor dropoutBackward(const Dropout* dropout, const poplar::Tensor& d_out, const DropoutSite& site,
                               poplar::program::Sequence& prog, const std::string& name);

}  // namespace ft5::t5
