// AdamW on the device with the host's per-step settings, in torch.optim.AdamW's order of operations
// (decoupled decay first, then the bias-corrected moment update), after unscaling, a non-finite check and
// optional global-norm clipping of the accumulated gradients.
#pragma once

#include "ft5/ft5.h"
#include "model/parameter_table.h"
#include "model/thread_pool.h"

namespace ft5::model {

// Validates the settings (throws FT5_ERR_INVALID_ARGUMENT naming the field) and updates every parameter.
// Gradients are left as they were.
ft5_step_result adamw_step(ThreadPool& pool, ParameterTable& params, const ft5_optimizer_step& step);

}  // namespace ft5::model
