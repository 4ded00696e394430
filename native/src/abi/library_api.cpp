// Library-wide exports: version, capability queries, descriptor sizes, descriptor defaults.
#include "abi/enum_value.h"
#include "abi/error.h"
#include "backends/backend.h"
#include "ft5/ft5.h"
#include "ipu/ipu_arch.h"

extern "C" {

uint32_t ft5_abi_version(void) { return (uint32_t(FT5_ABI_VERSION_MAJOR) << 16) | FT5_ABI_VERSION_MINOR; }

int32_t ft5_backend_available(ft5_backend backend) {
    const int32_t raw = ft5::abi::enum_value(backend);
    if (raw != FT5_BACKEND_EMULATOR && raw != FT5_BACKEND_POPLAR && raw != FT5_BACKEND_IPU_MODEL) return 0;
    const auto* b = ft5::backends::find_backend(backend);
    return b != nullptr && b->available() ? 1 : 0;
}

size_t ft5_abi_struct_size(ft5_struct_id id) {
    switch (ft5::abi::enum_value(id)) {
        case FT5_STRUCT_DEVICE_DESC: return sizeof(ft5_device_desc);
        case FT5_STRUCT_MEMORY_REPORT: return sizeof(ft5_memory_report);
        case FT5_STRUCT_TENSOR_DESC: return sizeof(ft5_tensor_desc);
        case FT5_STRUCT_MODEL_DESC: return sizeof(ft5_model_desc);
        case FT5_STRUCT_PLAN_DESC: return sizeof(ft5_plan_desc);
        case FT5_STRUCT_PARAM_INFO: return sizeof(ft5_param_info);
        case FT5_STRUCT_BATCH: return sizeof(ft5_batch);
        case FT5_STRUCT_OPTIMIZER_STEP: return sizeof(ft5_optimizer_step);
        case FT5_STRUCT_STEP_RESULT: return sizeof(ft5_step_result);
        case FT5_STRUCT_TRAFFIC_REPORT: return sizeof(ft5_traffic_report);
        case FT5_STRUCT_PROGRAM_SHAPE: return sizeof(ft5_program_shape);
        default: break;
    }
    return 0;
}

void ft5_device_desc_init(ft5_device_desc* desc) {
    if (desc == nullptr) return;
    *desc = ft5_device_desc{};
    desc->struct_size = sizeof(ft5_device_desc);
    desc->backend = FT5_BACKEND_EMULATOR;
    desc->num_ipus = 1;
    desc->tiles_per_ipu = ft5::ipu::IpuArch::kMk2Tiles;
    desc->bytes_per_tile = ft5::ipu::IpuArch::kMk2BytesPerTile;
    desc->streaming_bytes_per_ipu = ft5::ipu::IpuArch::kStreamingBytesPerIpu;
    desc->clock_hz = ft5::ipu::IpuArch::kMk2ClockHz;
    desc->num_threads = 0;
}

void ft5_tensor_desc_init(ft5_tensor_desc* desc) {
    if (desc == nullptr) return;
    *desc = ft5_tensor_desc{};
    desc->struct_size = sizeof(ft5_tensor_desc);
    desc->dtype = FT5_DTYPE_F32;
    desc->location = FT5_MEMORY_ON_CHIP;
}

void ft5_model_desc_init(ft5_model_desc* desc) {
    if (desc == nullptr) return;
    *desc = ft5_model_desc{};
    desc->struct_size = sizeof(ft5_model_desc);
    desc->vocab_size = 32128;
    desc->d_model = 512;
    desc->d_kv = 64;
    desc->d_ff = 1024;
    desc->num_heads = 6;
    desc->num_layers = 8;
    desc->num_decoder_layers = 8;
    desc->relative_attention_num_buckets = 32;
    desc->relative_attention_max_distance = 128;
    desc->layer_norm_epsilon = 1e-6f;
    desc->feed_forward_proj = FT5_FFN_GATED_GELU;
    desc->tie_word_embeddings = 0;
    desc->embedding_layout = FT5_EMBEDDING_SHARED;
    desc->dropout_rate = 0.0f;
    desc->pad_token_id = 0;
    desc->eos_token_id = 1;
    desc->decoder_start_token_id = 0;
    desc->seed = 0;
}

void ft5_plan_desc_init(ft5_plan_desc* desc) {
    if (desc == nullptr) return;
    *desc = ft5_plan_desc{};
    desc->struct_size = sizeof(ft5_plan_desc);
    desc->tensor_parallel = 1;
    desc->pipeline_stages = 1;
    desc->replicas = 1;
    desc->schedule = FT5_SCHEDULE_GPIPE;
    desc->recompute = 0;
    desc->weights_location = FT5_MEMORY_ON_CHIP;
    desc->optimizer_location = FT5_MEMORY_ON_CHIP;
    desc->weights_only = 0;
}

void ft5_batch_init(ft5_batch* batch) {
    if (batch == nullptr) return;
    *batch = ft5_batch{};
    batch->struct_size = sizeof(ft5_batch);
}

void ft5_program_shape_init(ft5_program_shape* shape) {
    if (shape == nullptr) return;
    *shape = ft5_program_shape{};
    shape->struct_size = sizeof(ft5_program_shape);
    shape->kind = FT5_PROGRAM_BATCH;
    shape->micro_batches = 1;
}

void ft5_optimizer_step_init(ft5_optimizer_step* step) {
    if (step == nullptr) return;
    *step = ft5_optimizer_step{};
    step->struct_size = sizeof(ft5_optimizer_step);
    step->step = 1;
    step->learning_rate = 1e-3f;
    step->beta1 = 0.9f;
    step->beta2 = 0.999f;
    step->eps = 1e-8f;
    step->weight_decay = 0.0f;
    step->decay_all_parameters = 0;
    step->grad_scale = 1.0f;
    step->max_grad_norm = 0.0f;
}

}  // extern "C"
