/* ft5.h - the whole C ABI of libft5, the FlanT5.Poplar native shim.
 *
 * Pure C: parseable without any SDK; the .NET bindings are generated from this file alone
 * (tools/FlanT5.BindGen). Conventions (docs in DESIGN.md):
 * - Every fallible function returns ft5_status; results go through out-parameters.
 * - ft5_last_error() holds the message of the last failed call on this thread.
 * - Handles are opaque; destroy accepts NULL and never fails; destroyed or foreign handles are
 *   detected and reported as FT5_ERR_INVALID_HANDLE, never dereferenced.
 * - Descriptors start with struct_size, are initialised by their _init function, grow append-only.
 * - A device or session is used by one thread at a time; the library may use many threads inside a call.
 */
#ifndef FT5_FT5_H
#define FT5_FT5_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FT5_API __attribute__((visibility("default")))
#define FT5_NODISCARD __attribute__((warn_unused_result))
#else
#define FT5_API
#define FT5_NODISCARD
#endif

/** ABI version: major in the high 16 bits, minor in the low 16 bits. 2.0 removed ft5_plan_desc's executor field
 *  (every session runs on the T5 builder), which moved the fields after it; 2.1 added FT5_BACKEND_IPU_MODEL;
 *  2.3 added ft5_plan_desc's precision and stochastic_rounding. */
#define FT5_ABI_VERSION_MAJOR 2
#define FT5_ABI_VERSION_MINOR 3

/** Result of every fallible call. */
typedef enum ft5_status {
    FT5_OK = 0,
    /** An argument is NULL, out of range, or inconsistent with another. */
    FT5_ERR_INVALID_ARGUMENT = 1,
    /** A handle is NULL where one is required, destroyed, or not of the expected kind. */
    FT5_ERR_INVALID_HANDLE = 2,
    /** An IPU arena, streaming memory or the host ran out of memory. */
    FT5_ERR_OUT_OF_MEMORY = 3,
    /** The requested backend is not compiled in or has no device. */
    FT5_ERR_BACKEND_UNAVAILABLE = 4,
    /** The request is valid but this build or backend does not support it. */
    FT5_ERR_NOT_SUPPORTED = 5,
    /** A bug or an unexpected failure inside the library. */
    FT5_ERR_INTERNAL = 6,
    /** A floating-point exception stopped a program (plan->detect_overflow): the message names the op (a
     *  projection by its parameter), the value, and the ranges of the op's inputs and output (ABI 2.3). The
     *  session's state is what the program left; write the state again before relying on it. */
    FT5_ERR_FLOATING_POINT = 7
} ft5_status;

/** Element types of tensors crossing the ABI. */
typedef enum ft5_dtype {
    FT5_DTYPE_F32 = 0,
    FT5_DTYPE_F16 = 1,
    FT5_DTYPE_BF16 = 2,
    FT5_DTYPE_I32 = 3
} ft5_dtype;

/** Backends registered at build time. libft5 is built against one SDK: the emulated one (the emulator backend; the
 *  default build) or Graphcore's Poplar SDK when CMake finds it (the poplar and ipu-model backends). Since ABI 2.1
 *  for IPU_MODEL. */
typedef enum ft5_backend {
    /** The emulated Poplar SDK: a CPU model of IPUs that runs the real arithmetic; in the emulator build. */
    FT5_BACKEND_EMULATOR = 0,
    /** IPU hardware through the Poplar SDK's DeviceManager; in the SDK build. */
    FT5_BACKEND_POPLAR = 1,
    /** The Poplar SDK's IPUModel (its CPU model of IPUs, no hardware); in the SDK build. */
    FT5_BACKEND_IPU_MODEL = 2
} ft5_backend;

/** Where a tensor lives. */
typedef enum ft5_memory_location {
    /** In the tile memory of one IPU. */
    FT5_MEMORY_ON_CHIP = 0,
    /** In the streaming memory (remote buffers) attached to the IPU. */
    FT5_MEMORY_STREAMING = 1
} ft5_memory_location;

/** Descriptor identifiers for ft5_abi_struct_size (layout drift checks). */
typedef enum ft5_struct_id {
    FT5_STRUCT_DEVICE_DESC = 0,
    FT5_STRUCT_MEMORY_REPORT = 1,
    FT5_STRUCT_TENSOR_DESC = 2,
    FT5_STRUCT_MODEL_DESC = 3,
    FT5_STRUCT_PLAN_DESC = 4,
    FT5_STRUCT_PARAM_INFO = 5,
    FT5_STRUCT_BATCH = 6,
    FT5_STRUCT_OPTIMIZER_STEP = 7,
    FT5_STRUCT_STEP_RESULT = 8,
    FT5_STRUCT_TRAFFIC_REPORT = 9,
    FT5_STRUCT_PROGRAM_SHAPE = 10
} ft5_struct_id;

/* ------------------------------------------------------------------------------------------------
 * Library
 * ---------------------------------------------------------------------------------------------- */

/** (FT5_ABI_VERSION_MAJOR << 16) | FT5_ABI_VERSION_MINOR of the loaded library. */
FT5_API uint32_t ft5_abi_version(void);

/** Message of the last failed call on this thread; "" when none. Owned by the library, valid until
 *  the next ft5 call on this thread. Never NULL. */
FT5_API const char* ft5_last_error(void);

/** 1 when the backend is compiled in and can open a device, else 0. */
FT5_API int32_t ft5_backend_available(ft5_backend backend);

/** sizeof the descriptor as this library was compiled; 0 for an unknown id. */
FT5_API size_t ft5_abi_struct_size(ft5_struct_id id);

/* ------------------------------------------------------------------------------------------------
 * Device: a set of IPUs (emulated or real) with their memories
 * ---------------------------------------------------------------------------------------------- */

typedef struct ft5_device ft5_device;

/** Topology of the device. Defaults (ft5_device_desc_init): emulator, 1 IPU Mk2 GC200
 *  (1472 tiles x 638,976 bytes, 1.33 GHz), 128 GiB streaming memory per IPU-M2000 shared by 4 IPUs. */
typedef struct ft5_device_desc {
    uint32_t struct_size;
    ft5_backend backend;
    /** Number of IPUs, >= 1. */
    uint32_t num_ipus;
    /** Tiles per IPU, >= 1. */
    uint32_t tiles_per_ipu;
    /** Tile memory in bytes; an IPU's on-chip capacity is tiles_per_ipu * bytes_per_tile. */
    uint64_t bytes_per_tile;
    /** Streaming memory in bytes available to each IPU. */
    uint64_t streaming_bytes_per_ipu;
    /** Tile clock in Hz, for cycle estimates. */
    double clock_hz;
    /** Host threads the emulator may use for arithmetic; 0 = all cores. */
    uint32_t num_threads;
} ft5_device_desc;

/** Fills struct_size and the defaults above. */
FT5_API void ft5_device_desc_init(ft5_device_desc* desc);

/** Opens a device. The desc must have been initialised with ft5_device_desc_init. */
FT5_API FT5_NODISCARD ft5_status ft5_device_create(const ft5_device_desc* desc, ft5_device** out_device);

/** Closes a device. Accepts NULL. Sessions and tensors keep their device alive until they are destroyed. */
FT5_API void ft5_device_destroy(ft5_device* device);

/** The topology the device was opened with. out_desc->struct_size must be set by the caller. */
FT5_API FT5_NODISCARD ft5_status ft5_device_get_desc(const ft5_device* device, ft5_device_desc* out_desc);

/** Memory use of one IPU. */
typedef struct ft5_memory_report {
    uint32_t struct_size;
    uint32_t ipu;
    /** On-chip capacity, bytes in use now, highest use since creation or the last reset. */
    uint64_t on_chip_capacity_bytes;
    uint64_t on_chip_used_bytes;
    uint64_t on_chip_peak_bytes;
    /** The same for this IPU's streaming memory. */
    uint64_t streaming_capacity_bytes;
    uint64_t streaming_used_bytes;
    uint64_t streaming_peak_bytes;
    /** Live tensors (allocations) on this IPU, both locations. */
    uint64_t live_tensors;
} ft5_memory_report;

/** Memory report of one IPU. out_report->struct_size must be set by the caller. */
FT5_API FT5_NODISCARD ft5_status ft5_device_memory_report(const ft5_device* device, uint32_t ipu,
                                                          ft5_memory_report* out_report);

/** Resets every IPU's peak counters to the current use. */
FT5_API FT5_NODISCARD ft5_status ft5_device_reset_peaks(ft5_device* device);

/** Bytes moved between IPUs and to/from streaming memory since creation or the last reset. */
typedef struct ft5_traffic_report {
    uint32_t struct_size;
    /** Bytes sent over IPU-Links by collectives and inter-IPU copies. */
    uint64_t inter_ipu_bytes;
    /** Bytes read from and written to streaming memory. */
    uint64_t streaming_bytes;
    /** Collective operations executed. */
    uint64_t collectives;
    /** Estimated cycles of the work executed (the slowest IPU per phase, summed). */
    uint64_t estimated_cycles;
} ft5_traffic_report;

FT5_API FT5_NODISCARD ft5_status ft5_device_traffic_report(const ft5_device* device, ft5_traffic_report* out_report);
FT5_API FT5_NODISCARD ft5_status ft5_device_reset_traffic(ft5_device* device);

/* ------------------------------------------------------------------------------------------------
 * Tensors: named allocations on one IPU
 * ---------------------------------------------------------------------------------------------- */

typedef struct ft5_tensor ft5_tensor;

#define FT5_MAX_RANK 8

typedef struct ft5_tensor_desc {
    uint32_t struct_size;
    /** UTF-8 name, copied; used in error messages and memory reports. Not NULL, not empty. */
    const char* name;
    ft5_dtype dtype;
    /** IPU index in [0, num_ipus). */
    uint32_t ipu;
    ft5_memory_location location;
    /** Number of dimensions in [0, FT5_MAX_RANK]; rank 0 is a scalar. */
    uint32_t rank;
    /** Dimensions, each >= 0; only the first rank entries are read. */
    int64_t shape[FT5_MAX_RANK];
} ft5_tensor_desc;

FT5_API void ft5_tensor_desc_init(ft5_tensor_desc* desc);

/** Allocates a zero-filled tensor. Past the IPU's capacity: FT5_ERR_OUT_OF_MEMORY, with the IPU,
 *  the requested and the free bytes in the message; the device stays usable. */
FT5_API FT5_NODISCARD ft5_status ft5_tensor_create(ft5_device* device, const ft5_tensor_desc* desc,
                                                   ft5_tensor** out_tensor);

/** Frees a tensor. Accepts NULL. */
FT5_API void ft5_tensor_destroy(ft5_tensor* tensor);

/** Size of the tensor's data in bytes. */
FT5_API FT5_NODISCARD ft5_status ft5_tensor_byte_size(const ft5_tensor* tensor, uint64_t* out_bytes);

/** Copies nbytes (must equal the tensor's byte size) from host memory into the tensor. */
FT5_API FT5_NODISCARD ft5_status ft5_tensor_write(ft5_tensor* tensor, const void* data, size_t nbytes);

/** Copies the tensor into host memory; nbytes must equal the tensor's byte size. */
FT5_API FT5_NODISCARD ft5_status ft5_tensor_read(const ft5_tensor* tensor, void* data, size_t nbytes);

/* ------------------------------------------------------------------------------------------------
 * Model and placement
 * ---------------------------------------------------------------------------------------------- */

typedef enum ft5_ffn_kind {
    /** gelu_new(x W_0) * (x W_1), then W_o (T5 v1.1, Flan-T5). */
    FT5_FFN_GATED_GELU = 0,
    /** relu(x W_i), then W_o (original T5). */
    FT5_FFN_RELU = 1
} ft5_ffn_kind;

typedef enum ft5_embedding_layout {
    /** One matrix "shared.weight" used by encoder and decoder (hub Flan-T5 files). */
    FT5_EMBEDDING_SHARED = 0,
    /** Distinct "encoder.embed_tokens.weight" and "decoder.embed_tokens.weight" (transformers 5 untied saves). */
    FT5_EMBEDDING_SEPARATE = 1
} ft5_embedding_layout;

/** The Hugging Face T5 config fields that change the math. */
typedef struct ft5_model_desc {
    uint32_t struct_size;
    uint32_t vocab_size;
    uint32_t d_model;
    uint32_t d_kv;
    uint32_t d_ff;
    uint32_t num_heads;
    uint32_t num_layers;
    uint32_t num_decoder_layers;
    uint32_t relative_attention_num_buckets;
    uint32_t relative_attention_max_distance;
    float layer_norm_epsilon;
    ft5_ffn_kind feed_forward_proj;
    /** 1: lm_head is the shared embedding and the decoder output is scaled by d_model^-0.5. */
    int32_t tie_word_embeddings;
    ft5_embedding_layout embedding_layout;
    /** Dropout probability, applied only in training calls (ft5_batch.training = 1). */
    float dropout_rate;
    int32_t pad_token_id;
    int32_t eos_token_id;
    int32_t decoder_start_token_id;
    /** Seed of the dropout random stream. */
    uint64_t seed;
} ft5_model_desc;

/** Defaults: the flan-t5-small geometry (vocab 32128, d_model 512, d_kv 64, d_ff 1024, 6 heads,
 *  8 + 8 layers, 32 buckets, max distance 128, eps 1e-6, gated-gelu, untied, shared embedding,
 *  dropout 0, pad 0, eos 1, start 0, seed 0). */
FT5_API void ft5_model_desc_init(ft5_model_desc* desc);

/** The fp16 mitigations of ft5_plan_desc.fp16_mitigations (ABI 2.3): Hugging Face's and optimum-graphcore's changes
 *  that keep Flan-T5 (trained in bfloat16) within fp16's range, each a bit. They change the forward pass and
 *  decoding of a weights-only session with precision FT5_DTYPE_F16. */
typedef enum ft5_fp16_mitigation {
    /** The feed-forward's wo multiplies in fp32 (Hugging Face's keep-in-fp32); its output is fp32. */
    FT5_FP16_WO_FP32 = 1,
    /** wo multiplies its input / 8 in fp16 and its fp32 output is multiplied by 8 (optimum-graphcore). */
    FT5_FP16_WO_SCALED = 2,
    /** The residual stream is fp32; each layer norm gives fp16 (optimum-graphcore). */
    FT5_FP16_RESIDUAL_FP32 = 4,
    /** Each residual add clamps to +-(65504 - 1000) before rounding into fp16 (Hugging Face's T5 block). */
    FT5_FP16_CLAMP = 8,
    /** The attention masks' minimum is 0.75 x fp16's lowest, so mask + position bias stays finite. */
    FT5_FP16_MASK_SCALED = 16,
    /** gelu only on -39 < x < 39, relu outside (x^3 of gelu's tanh form passes 65504 beyond). */
    FT5_FP16_GELU_LIMITED = 32
} ft5_fp16_mitigation;

typedef enum ft5_pipeline_schedule {
    FT5_SCHEDULE_GPIPE = 0,
    FT5_SCHEDULE_1F1B = 1
} ft5_pipeline_schedule;

/** How the model is placed on the device's IPUs. ipu = (replica * tp + tp_rank) * pp + stage: Poplar's replicas
 * (replica * tp + tp_rank, tensor-parallel groups consecutive) of pp consecutive IPUs, one per pipeline stage. */
typedef struct ft5_plan_desc {
    uint32_t struct_size;
    uint32_t tensor_parallel;
    uint32_t pipeline_stages;
    uint32_t replicas;
    /** Encoder layers per stage, pipeline_stages entries (NULL: even split, encoder before decoder). */
    const uint32_t* encoder_layers_per_stage;
    /** Decoder layers per stage, pipeline_stages entries (NULL: even split). */
    const uint32_t* decoder_layers_per_stage;
    ft5_pipeline_schedule schedule;
    /** 1: activations of each layer are recomputed in the backward pass instead of kept. */
    int32_t recompute;
    /** Where weights and optimizer state live; streaming = phased, one layer loaded at a time. */
    ft5_memory_location weights_location;
    ft5_memory_location optimizer_location;
    /** 1: the session holds weights only, no gradients or AdamW moments (a quarter of the memory): forward passes
     *  and decoding (checkpoint conversion, serving). Training calls and gradient or moment slots are refused
     *  with FT5_ERR_NOT_SUPPORTED. */
    int32_t weights_only;
    /** The data-parallel replicas this process runs when the run's host instances share them (ABI 1.4): replicas
     *  [first_local_replica, first_local_replica + local_replicas) of `replicas`; local_replicas 0 = all of them
     *  (one process). Every instance creates the same session for its own replicas, after ft5_instances_join;
     *  the collectives between replicas of different instances go over MPI, so the instances make the same calls
     *  in the same order. Batches then hold the local replicas' rows only; the loss is the whole run's; a gradient
     *  read before the optimizer step gives the local replicas' part. */
    uint32_t first_local_replica;
    uint32_t local_replicas;
    /** The graph's number format (ABI 2.3): FT5_DTYPE_F32, or FT5_DTYPE_F16 as Flan-T5 ran on IPUs: weights and
     *  activations in fp16; matmul partials, RMS-norm statistics, the loss, the gradient accumulators and the AdamW
     *  moments in fp32. Tensors still cross the ABI as f32; a weight written past fp16's range (65504) is refused. */
    ft5_dtype precision;
    /** 1 (fp16 only): the optimizer step rounds the updated weights into fp16 stochastically, seeded by the model's
     *  seed and the step number (so a resumed run rounds alike); 0: to nearest. */
    int32_t stochastic_rounding;
    /** 1: every program raises on the first op whose result overflows (past fp16's 65504, or an fp32 infinity) or
     *  is NaN, as Poplar's floating-point exceptions do (FloatingPointBehaviour oflo and inv), and the call fails
     *  with FT5_ERR_FLOATING_POINT; 0: fp16 results saturate at +-65504 and nothing stops (ABI 2.3). */
    int32_t detect_overflow;
    /** ft5_fp16_mitigation bits (ABI 2.3); 0: none. */
    uint32_t fp16_mitigations;
    /** 1 (ABI 2.3): each ft5_session_forward also measures the largest |activation| of every module (the embeddings,
     *  each attention and feed-forward projection's output, the residual stream after each layer, the final norms):
     *  ft5_session_activation_ranges. */
    int32_t activation_ranges;
    /** 1 (fp16, training; ABI 2.3): AdamW updates an fp32 master copy of every weight, held where the moments are,
     *  and rounds it to nearest into the fp16 weight; the weight slot then reads the master and writes both. Not with
     *  stochastic_rounding. */
    int32_t master_weights;
} ft5_plan_desc;

/** Defaults: one IPU (tp 1, pp 1, replicas 1), GPipe, no recomputation, everything on chip, trainable
 *  (gradients and AdamW moments allocated), every replica in this process, fp32. */
FT5_API void ft5_plan_desc_init(ft5_plan_desc* desc);

/* ------------------------------------------------------------------------------------------------
 * Session: a model placed on a device, with its parameters, gradients and optimizer state
 * ---------------------------------------------------------------------------------------------- */

typedef struct ft5_session ft5_session;

/** Builds the model on the device according to the plan; parameters are zero until written.
 *  Fails with FT5_ERR_OUT_OF_MEMORY before anything runs when an IPU cannot hold its part. */
FT5_API FT5_NODISCARD ft5_status ft5_session_create(ft5_device* device, const ft5_model_desc* model,
                                                    const ft5_plan_desc* plan, ft5_session** out_session);

/** Frees a session and its device memory. Accepts NULL. */
FT5_API void ft5_session_destroy(ft5_session* session);

/** One parameter as the host sees it: Hugging Face name and shape (e.g. "encoder.block.0.layer.0.SelfAttention.q.weight",
 *  [inner, d_model]). With tensor parallelism the parameter is split into shard_count equal shards along shard_dim
 *  (the vocabulary dimension is first padded to padded_rows); shard i lives on tp rank i. */
typedef struct ft5_param_info {
    uint32_t struct_size;
    /** UTF-8, owned by the session, valid while it lives. */
    const char* name;
    uint32_t rank;
    int64_t shape[FT5_MAX_RANK];
    /** Number of shards (the tensor-parallel degree, or 1 for replicated parameters). */
    uint32_t shard_count;
    /** Dimension split across shards; -1 when replicated. */
    int32_t shard_dim;
    /** Length of shard_dim after padding (vocab padded to a multiple of the tp degree); equals shape[shard_dim]
     *  when no padding; 0 when replicated. */
    int64_t padded_dim;
    /** 1 when the reference setup excludes it from weight decay (names containing "norm" or "bias"). */
    int32_t no_weight_decay;
} ft5_param_info;

FT5_API FT5_NODISCARD ft5_status ft5_session_param_count(const ft5_session* session, uint32_t* out_count);
FT5_API FT5_NODISCARD ft5_status ft5_session_param_info(const ft5_session* session, uint32_t index,
                                                        ft5_param_info* out_info);
/** Index of the parameter with this name; FT5_ERR_INVALID_ARGUMENT naming it when absent. */
FT5_API FT5_NODISCARD ft5_status ft5_session_param_find(const ft5_session* session, const char* name,
                                                        uint32_t* out_index);

/** Which per-parameter buffer a read or write addresses. */
typedef enum ft5_param_slot {
    /** The weights. */
    FT5_SLOT_WEIGHT = 0,
    /** The accumulated gradient (read only through the ABI). */
    FT5_SLOT_GRADIENT = 1,
    /** AdamW first moment. */
    FT5_SLOT_ADAM_M = 2,
    /** AdamW second moment. */
    FT5_SLOT_ADAM_V = 3
} ft5_param_slot;

/** Writes the whole logical parameter (its HF shape, row-major fp32, count elements), on every replica.
 *  With tensor parallelism the host may write shards instead with ft5_session_param_write_shard. */
FT5_API FT5_NODISCARD ft5_status ft5_session_param_write(ft5_session* session, uint32_t index, ft5_param_slot slot,
                                                         const float* data, size_t count);
/** Reads the whole logical parameter (replica 0). */
FT5_API FT5_NODISCARD ft5_status ft5_session_param_read(const ft5_session* session, uint32_t index,
                                                        ft5_param_slot slot, float* data, size_t count);
/** Writes shard `shard` (in [0, shard_count)) of a parameter, in its padded shard shape, on every replica. */
FT5_API FT5_NODISCARD ft5_status ft5_session_param_write_shard(ft5_session* session, uint32_t index, uint32_t shard,
                                                               ft5_param_slot slot, const float* data, size_t count);
FT5_API FT5_NODISCARD ft5_status ft5_session_param_read_shard(const ft5_session* session, uint32_t index,
                                                              uint32_t shard, ft5_param_slot slot, float* data,
                                                              size_t count);

/** A micro-batch. Token arrays are row-major [batch, src_len] or [batch, tgt_len]. */
typedef struct ft5_batch {
    uint32_t struct_size;
    uint32_t batch;
    uint32_t src_len;
    uint32_t tgt_len;
    /** [batch, src_len] token ids in [0, vocab_size). */
    const int32_t* input_ids;
    /** [batch, src_len] 1 = real token, 0 = padding. NULL = all ones. */
    const int32_t* attention_mask;
    /** [batch, tgt_len] decoder inputs (start token then shifted labels). */
    const int32_t* decoder_input_ids;
    /** [batch, tgt_len] targets; -100 = ignored. NULL for a forward pass without loss. */
    const int32_t* labels;
    /** [batch, tgt_len] decoder padding mask, NULL = all ones (Hugging Face default: causal only). */
    const int32_t* decoder_attention_mask;
    /** 1: training call (dropout active). */
    int32_t training;
} ft5_batch;

FT5_API void ft5_batch_init(ft5_batch* batch);

/** Forward pass. logits (nullable): [batch, tgt_len, vocab_size] fp32, logits_count elements.
 *  out_loss (nullable): mean cross-entropy over labels != -100 (requires labels).
 *  encoder_hidden (nullable): [batch, src_len, d_model] encoder output after the final norm. */
FT5_API FT5_NODISCARD ft5_status ft5_session_forward(ft5_session* session, const ft5_batch* batch, float* logits,
                                                     size_t logits_count, float* encoder_hidden,
                                                     size_t encoder_hidden_count, float* out_loss);

/** Forward and backward of one micro-batch; the gradient of (loss * loss_weight) is added to the accumulated
 *  gradients. The host passes loss_weight = loss_scale (and divides it back in ft5_optimizer_step.grad_scale). */
FT5_API FT5_NODISCARD ft5_status ft5_session_forward_backward(ft5_session* session, const ft5_batch* batch,
                                                              float loss_weight, float* out_loss);

/** Forward and backward of a whole step's micro-batches (gradient accumulation) through the plan's pipeline
 *  schedule: with pipeline_stages > 1 and weights on chip, GPipe runs every micro-batch's forward before any
 *  backward and 1F1B lets stage s hold at most (pipeline_stages - s) micro-batches between the two; otherwise the
 *  micro-batches run one after another. The gradient of sum_m(loss_m * loss_weight) is added to the accumulated
 *  gradients, in micro-batch order on every stage, so the result does not depend on the schedule. Each
 *  micro-batch draws its dropout from its own part of the random stream. batches: count pointers (1..4096), each
 *  a batch with labels; out_losses (nullable): losses_count = count mean losses, one per micro-batch. */
FT5_API FT5_NODISCARD ft5_status ft5_session_forward_backward_micro_batches(ft5_session* session,
                                                                            const ft5_batch* const* batches,
                                                                            uint32_t count, float loss_weight,
                                                                            float* out_losses, size_t losses_count);

/** Sets every accumulated gradient to zero. */
FT5_API FT5_NODISCARD ft5_status ft5_session_zero_gradients(ft5_session* session);

/** AdamW step settings, decided by the host each step. */
typedef struct ft5_optimizer_step {
    uint32_t struct_size;
    /** 1-based step number, for bias correction. */
    uint64_t step;
    float learning_rate;
    float beta1;
    float beta2;
    float eps;
    /** Decoupled weight decay (w -= lr * wd * w); not applied to no_weight_decay parameters unless
     *  decay_all_parameters is 1. */
    float weight_decay;
    int32_t decay_all_parameters;
    /** Accumulated gradients are divided by this first (micro-batches x loss scale). > 0. */
    float grad_scale;
    /** Global-norm clipping threshold on the unscaled gradient; 0 = no clipping. */
    float max_grad_norm;
} ft5_optimizer_step;

/** Defaults: step 1, lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0, grad_scale 1, no clipping. */
FT5_API void ft5_optimizer_step_init(ft5_optimizer_step* step);

typedef struct ft5_step_result {
    uint32_t struct_size;
    /** Global L2 norm of the unscaled gradient before clipping (summed in float32 on the device). */
    double grad_norm;
    /** 1 when a gradient was NaN or infinite: nothing was updated. */
    int32_t skipped_nonfinite;
} ft5_step_result;

/** Clips, applies AdamW to every parameter and leaves the gradients as they were (the host zeroes them).
 *  out_result->struct_size must be set by the caller. */
FT5_API FT5_NODISCARD ft5_status ft5_session_optimizer_step(ft5_session* session, const ft5_optimizer_step* step,
                                                            ft5_step_result* out_result);

/** State of the dropout random stream, for training checkpoints. */
FT5_API FT5_NODISCARD ft5_status ft5_session_get_rng_state(const ft5_session* session, uint64_t* out_state);
FT5_API FT5_NODISCARD ft5_status ft5_session_set_rng_state(ft5_session* session, uint64_t state);

/* ------------------------------------------------------------------------------------------------
 * Incremental decoding (host-driven greedy and beam search)
 * ---------------------------------------------------------------------------------------------- */

/** Runs the encoder on [batch, src_len] and starts a decode with an empty key/value cache for batch rows,
 *  room for max_steps tokens. Replaces any decode in progress. */
FT5_API FT5_NODISCARD ft5_status ft5_session_decode_begin(ft5_session* session, const int32_t* input_ids,
                                                          const int32_t* attention_mask, uint32_t batch,
                                                          uint32_t src_len, uint32_t max_steps);

/** Feeds one token per row (tokens[batch]) and writes the next-token logits [batch, vocab_size].
 *  ABI 1.0: it cannot tell how long tokens is and reads one per row of the decode; ft5_session_decode_step_v2
 *  takes the count and checks it. */
FT5_API FT5_NODISCARD ft5_status ft5_session_decode_step(ft5_session* session, const int32_t* tokens,
                                                         float* logits, size_t logits_count);

/** Reorders (and may duplicate) the rows of the cache and the encoder output: new row i = old row rows[i].
 *  count = the new number of rows (beam search). */
FT5_API FT5_NODISCARD ft5_status ft5_session_decode_reorder(ft5_session* session, const int32_t* rows,
                                                            uint32_t count);

/** Ends the decode and frees its cache. */
FT5_API FT5_NODISCARD ft5_status ft5_session_decode_end(ft5_session* session);

/** Feeds one token per row and writes the next-token logits [rows, vocab_size]: token_count must equal the rows of
 *  the decode in progress (decode_begin's batch, or the count of the last decode_reorder), logits_count rows x
 *  vocab_size. Since ABI 1.1. */
FT5_API FT5_NODISCARD ft5_status ft5_session_decode_step_v2(ft5_session* session, const int32_t* tokens,
                                                            size_t token_count, float* logits, size_t logits_count);

/* ------------------------------------------------------------------------------------------------
 * Host instances: the processes of one run under mpirun or poprun, coordinated over MPI
 * ---------------------------------------------------------------------------------------------- */

/** Joins the run's other instances: initialises MPI unless the program already did, and gives this instance's
 *  index and the number of instances (MPI_COMM_WORLD). FT5_ERR_NOT_SUPPORTED when libft5 was built without MPI.
 *  Since ABI 1.2. */
FT5_API FT5_NODISCARD ft5_status ft5_instances_join(int32_t* out_index, int32_t* out_count);

/** Every instance gives block_bytes bytes, the same number on every instance; out receives all the blocks in
 *  instance order (out_bytes = instances x block_bytes) and *out_completed is 1. When not every instance reached the
 *  gather within timeout_ms (0 = no limit), *out_completed is 0 and the gather stays pending: further gathers fail,
 *  ft5_instances_abort ends the run. Since ABI 1.2. */
FT5_API FT5_NODISCARD ft5_status ft5_instances_all_gather(const void* block, size_t block_bytes, void* out,
                                                          size_t out_bytes, uint32_t timeout_ms,
                                                          int32_t* out_completed);

/** Ends every instance of the run with exit_code (MPI_Abort) and does not return; does nothing before
 *  ft5_instances_join. Since ABI 1.2. */
FT5_API void ft5_instances_abort(int32_t exit_code);

/** Leaves the run: completes a pending gather, then finalises MPI when ft5_instances_join initialised it. Collective:
 *  every instance calls it. Since ABI 1.2. */
FT5_API FT5_NODISCARD ft5_status ft5_instances_leave(void);

/** What a program set of the session's engine runs (ft5_session_prepare). */
typedef enum ft5_program_kind {
    /** forward and forward_backward of batch rows x src_len -> tgt_len tokens. */
    FT5_PROGRAM_BATCH = 0,
    /** a decode (ft5_session_decode_begin) of batch rows of src_len tokens with room for tgt_len steps. */
    FT5_PROGRAM_DECODE = 1
} ft5_program_kind;

/** A shape the session will run, in the terms of its calls (whole batches). A shape is compiled at its own sizes,
 *  and a call runs on the smallest declared program that fits it (padded), else on its power-of-two bucket, whatever
 *  ran before (dropout's mask follows the program's shape). A decode (ft5_session_decode_begin, or a reorder to
 *  another row count) fits a decode program of at least its rows, prompt length and max_steps. Each declared decode
 *  keeps its key/value caches on chip while the engine lives. Since ABI 2.2. */
typedef struct ft5_program_shape {
    uint32_t struct_size;
    /** an ft5_program_kind */
    uint32_t kind;
    uint32_t batch;
    uint32_t src_len;
    uint32_t tgt_len;
    /** FT5_PROGRAM_BATCH: the micro-batches of one ft5_session_forward_backward_micro_batches call (0 or 1: single
     *  calls). Under one pipeline stage the micro-batches run one at a time, on the program of one. */
    uint32_t micro_batches;
    /** FT5_PROGRAM_BATCH: 1 for training calls (dropout active), as ft5_batch.training. */
    int32_t training;
} ft5_program_shape;

FT5_API void ft5_program_shape_init(ft5_program_shape* shape);

/** Compiles the session's engine once with a program set for each of shapes that it does not hold yet, so that
 *  the calls of those shapes compile nothing. Called right after ft5_session_create, before any parameter is
 *  written, the model's state never goes through the host (a shape first met later compiles the engine again and
 *  moves the state over). Nothing changes when a shape is invalid or the programs do not fit
 *  (FT5_ERR_OUT_OF_MEMORY). Since ABI 2.2. */
FT5_API FT5_NODISCARD ft5_status ft5_session_prepare(ft5_session* session, const ft5_program_shape* shapes,
                                                     size_t count);

/** The program sets the session's engine holds: one per declared shape and bucket it ran, all in one T5 graph over one
 *  copy of the weights, counting the one built at creation for the smallest shape (it gives the parameter list).
 *  Since ABI 1.2. */
/** With plan->activation_ranges: the largest |activation| of each module in the last ft5_session_forward (over
 *  every row of the batch as it ran, padding included, and every replica), in fp32, against which fp16's 65504 is the
 *  limit. Writes min(capacity, count) values; *out_count: the number of modules (0 before a forward). Since ABI 2.3. */
FT5_API FT5_NODISCARD ft5_status ft5_session_activation_ranges(const ft5_session* session, float* out_max,
                                                               uint32_t capacity, uint32_t* out_count);
/** The Hugging Face module of activation range `index` ("encoder.block.1.layer.1.DenseReluDense.wo": that
 *  projection's output; "encoder.block.1.layer.1": the residual stream after the layer). UTF-8, owned by the
 *  session, valid while it lives. Since ABI 2.3. */
FT5_API FT5_NODISCARD ft5_status ft5_session_activation_site(const ft5_session* session, uint32_t index,
                                                             const char** out_name);

FT5_API FT5_NODISCARD ft5_status ft5_session_programs_built(const ft5_session* session, uint32_t* out_count);

/** How many times the session compiled its engine: once at creation, then again with every program set so far each
 *  time a shape bucket not seen before arrives (a graph compilation each on hardware). Since ABI 2.2. */
FT5_API FT5_NODISCARD ft5_status ft5_session_engine_compilations(const ft5_session* session, uint32_t* out_count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FT5_FT5_H */
