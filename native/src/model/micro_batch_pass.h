// One micro-batch of one replica on its way through the pipeline: what its forward steps hand to the later
// steps and to its backward steps. Every buffer sits on the IPUs of the stage that holds it at the time, so the
// memory of the micro-batches a pipeline schedule keeps in flight shows on each IPU.
#pragma once

#include <cstdint>
#include <vector>

#include "ipu/device_buffer.h"
#include "model/activations.h"

namespace ft5::model {

// A validated micro-batch (shapes checked at the ABI).
struct BatchView {
    int64_t batch = 0;
    int64_t src_len = 0;
    int64_t tgt_len = 0;
    const int32_t* input_ids = nullptr;
    const int32_t* attention_mask = nullptr;  // nullable
    const int32_t* decoder_input_ids = nullptr;
    const int32_t* labels = nullptr;                  // nullable
    const int32_t* decoder_attention_mask = nullptr;  // nullable
    bool training = false;
};

struct ForwardOutputs {
    float* logits = nullptr;          // [B, T, V], nullable
    float* encoder_hidden = nullptr;  // [B, S, d], nullable
};

// The pieces of a pass, in the order they run; a segment is a maximal run of steps on one stage.
struct PassStep {
    enum class Kind { kInputs, kEncoderBlock, kEncoderFinal, kDecoderBlock, kDecoderFinal, kHead };
    Kind kind = Kind::kInputs;
    uint32_t block = 0;
    uint32_t stage = 0;
};

struct PassSegment {
    uint32_t stage = 0;
    std::vector<PassStep> steps;
};

struct MicroBatchPass {
    BatchView batch;
    ForwardOutputs outputs;
    bool decoder = true;   // false: the encoder only (decoding's encode)
    bool backward = false;  // keep what the backward pass needs
    float loss_weight = 1.0f;
    DropoutStream dropout;

    ipu::DeviceBuffer enc_mask, dec_mask;  // additive key masks, on the first stage
    StackActs enc, dec;
    StageBuffer enc_x, dec_x;  // residual streams between forward steps
    // The encoder output as each stage holds it: made on the encoder's last stage and copied to every other stage
    // with decoder blocks; a stage's copy is freed once its decoder blocks are done with it.
    std::vector<ipu::DeviceBuffer> enc_out;
    StageBuffer dec_out;                  // decoder output (the lm_head input)
    std::vector<ipu::DeviceBuffer> logits;  // per lm_head shard; hold d(loss)/d(logits) after the forward pass
    StageBuffer d_dec, d_enc;  // residual-stream gradients between backward steps
    StageBuffer d_enc_out;     // gradient of the encoder output, summed over the decoder's cross-attention

    double loss = 0.0;
    int64_t label_count = 0;
};

}  // namespace ft5::model
