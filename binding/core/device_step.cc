#include "device_step.h"

#include <cstring>

#include "plan.h"

namespace rmsprop::core {
namespace {

constexpr std::size_t kAlign = 256;
// Uploads are cut into batches this large so that copying the next batch into the staging
// overlaps with the transfer of the previous one.
constexpr std::size_t kBatchBytes = std::size_t(8) << 20;

std::size_t element_bytes(DType dtype) {
  switch (dtype) {
    case DType::kFloat64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
  }
  return 8;
}

int plugin_dtype(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return RMSPROP_CUDA_FLOAT32;
    case DType::kFloat64: return RMSPROP_CUDA_FLOAT64;
    case DType::kFloat16: return RMSPROP_CUDA_FLOAT16;
    case DType::kBFloat16: return RMSPROP_CUDA_BFLOAT16;
  }
  return RMSPROP_CUDA_FLOAT32;
}

}  // namespace

DeviceStep::DeviceStep(const DevicePlugin& plugin, std::vector<TensorSlot> tensors, const double* plan, bool centered,
                       bool sync_params)
    : plugin_(plugin), tensors_(std::move(tensors)), plan_(plan), centered_(centered), sync_params_(sync_params) {
  // Every region lays the tensors out alike, each at the size of its state's elements (which
  // also holds a half-precision tensor's float32 gradient).
  offset_.resize(tensors_.size());
  grad_float32_.assign(tensors_.size(), 0);
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    offset_[i] = region_bytes_;
    region_bytes_ += (tensors_[i].size * element_bytes(state_dtype(tensors_[i].dtype)) + kAlign - 1) / kAlign * kAlign;
    masters_ = masters_ || tensors_[i].master != nullptr;
  }
  table_.reserve(tensors_.size());
  const std::size_t regions = (centered_ ? 5 : 4) + (masters_ ? 1 : 0);
  try {
    check(plugin_.queue_create(&queue_), "creating a queue");
    // The regions, then the finite check's flag.
    check(plugin_.malloc_(reinterpret_cast<void**>(&device_), regions * region_bytes_ + kAlign), "allocating device memory");
    flag_ = reinterpret_cast<std::uint32_t*>(device_ + regions * region_bytes_);
    check(plugin_.host_alloc(reinterpret_cast<void**>(&staging_), region_bytes_ + kAlign), "allocating page-locked staging");
    upload(Buffer::kParam);
    upload(Buffer::kMeanSquare);
    upload(Buffer::kMoment);
    if (centered_) upload(Buffer::kMeanGrad);
    if (masters_) upload(Buffer::kMaster);
  } catch (...) {
    release();
    throw;
  }
}

DeviceStep::~DeviceStep() { release(); }

void DeviceStep::release() noexcept {
  if (queue_ == nullptr) return;
  plugin_.queue_destroy(queue_);  // waits for its work
  queue_ = nullptr;
  if (device_) plugin_.free_(device_);
  if (staging_) plugin_.host_free(staging_);
  device_ = nullptr;
  staging_ = nullptr;
}

void DeviceStep::check(int code, const char* what) const {
  if (code != 0) {
    throw DeviceError(std::string("device error while ") + what + ": " + plugin_.error_string(code) + " (" +
                      plugin_.path + ")");
  }
}

char* DeviceStep::region(Buffer b) const {
  std::size_t index = 0;
  switch (b) {
    case Buffer::kParam: index = 0; break;
    case Buffer::kMeanSquare: index = 1; break;
    case Buffer::kMoment: index = 2; break;
    case Buffer::kMeanGrad: index = 3; break;
    case Buffer::kGrad: index = centered_ ? 4 : 3; break;
    case Buffer::kMaster: index = centered_ ? 5 : 4; break;
  }
  return device_ + index * region_bytes_;
}

std::size_t DeviceStep::buffer_bytes(std::size_t i, Buffer b, DType grad) const {
  const TensorSlot& t = tensors_[i];
  switch (b) {
    case Buffer::kParam: return t.size * element_bytes(t.dtype);
    case Buffer::kGrad: return t.size * element_bytes(grad);
    case Buffer::kMaster: return t.master ? t.size * 4 : 0;
    case Buffer::kMeanGrad: return centered_ ? t.size * element_bytes(state_dtype(t.dtype)) : 0;
    default: return t.size * element_bytes(state_dtype(t.dtype));
  }
}

void* DeviceStep::host_buffer(std::size_t i, Buffer b) const {
  const TensorSlot& t = tensors_[i];
  switch (b) {
    case Buffer::kParam: return t.param;
    case Buffer::kMeanSquare: return t.mean_square;
    case Buffer::kMoment: return t.moment;
    case Buffer::kMeanGrad: return t.mean_grad;
    case Buffer::kGrad: return nullptr;
    case Buffer::kMaster: return t.master;
  }
  return nullptr;
}

std::uintptr_t DeviceStep::device_address(std::size_t i, Buffer b) const {
  if (released() || tensors_[i].size == 0 || (b == Buffer::kMeanGrad && !centered_) ||
      (b == Buffer::kMaster && tensors_[i].master == nullptr)) {
    return 0;
  }
  return reinterpret_cast<std::uintptr_t>(region(b) + offset_[i]);
}

void DeviceStep::upload(Buffer b, const void* const* from, const DType* dtypes) {
  if (released()) throw DeviceError("the optimizer's device memory was released (dispose())");
  if ((b == Buffer::kMeanGrad && !centered_) || (b == Buffer::kMaster && !masters_)) return;
  if (b == Buffer::kGrad && from == nullptr) throw DeviceError("gradients to upload are missing");
  // The staging may still be the source of an earlier transfer.
  check(plugin_.synchronize(queue_), "waiting for the device");
  char* device = region(b);
  std::size_t batch_begin = 0;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const DType grad = dtypes != nullptr ? dtypes[i] : tensors_[i].dtype;
    const std::size_t bytes = buffer_bytes(i, b, grad);
    if (b == Buffer::kGrad) grad_float32_[i] = is_half(tensors_[i].dtype) && grad == DType::kFloat32;
    const void* source = from ? from[i] : host_buffer(i, b);
    if (bytes) std::memcpy(staging_ + offset_[i], source, bytes);
    const std::size_t batch_end = offset_[i] + bytes;
    if (batch_end - batch_begin >= kBatchBytes || i + 1 == tensors_.size()) {
      check(plugin_.copy_async(queue_, device + batch_begin, staging_ + batch_begin, batch_end - batch_begin,
                               RMSPROP_CUDA_HOST_TO_DEVICE),
            "copying to the device");
      batch_begin = i + 1 < tensors_.size() ? offset_[i + 1] : batch_end;
    }
  }
}

void DeviceStep::download(Buffer b) {
  if (released()) throw DeviceError("the optimizer's device memory was released (dispose())");
  if (b == Buffer::kGrad || (b == Buffer::kMeanGrad && !centered_) || (b == Buffer::kMaster && !masters_) ||
      tensors_.empty()) {
    return;
  }
  check(plugin_.synchronize(queue_), "waiting for the device");
  check(plugin_.copy_async(queue_, staging_, region(b), region_bytes_, RMSPROP_CUDA_DEVICE_TO_HOST), "copying from the device");
  check(plugin_.synchronize(queue_), "copying from the device");
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const std::size_t bytes = buffer_bytes(i, b, tensors_[i].dtype);
    if (bytes) std::memcpy(host_buffer(i, b), staging_ + offset_[i], bytes);
  }
}

void DeviceStep::build_table(DType dtype) {
  table_.clear();
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const TensorSlot& t = tensors_[i];
    if (t.dtype != dtype || t.size == 0) continue;
    const plan::TensorPlan p = plan::read_tensor(plan_, i, t.size);
    rmsprop_cuda_tensor d{};
    d.param = region(Buffer::kParam) + offset_[i];
    d.mean_square = region(Buffer::kMeanSquare) + offset_[i];
    d.moment = region(Buffer::kMoment) + offset_[i];
    d.mean_grad = centered_ ? region(Buffer::kMeanGrad) + offset_[i] : nullptr;
    d.grad = region(Buffer::kGrad) + offset_[i];
    d.master = t.master ? region(Buffer::kMaster) + offset_[i] : nullptr;
    d.grad_float32 = grad_float32_[i];
    d.size = t.size;
    d.slices = p.centralize ? p.slices : 0;
    d.lr = p.lr;
    d.weight_decay = p.weight_decay;
    d.variant = p.variant;
    table_.push_back(d);
  }
}

void DeviceStep::stage_gradients(const void* const* grads, const DType* grad_dtypes) {
  if (grads) {
    upload(Buffer::kGrad, grads, grad_dtypes);
  } else {
    grad_float32_.assign(tensors_.size(), 0);  // device gradients are of each parameter's dtype
  }
}

template <class Call>
void DeviceStep::for_each_dtype(Call call) {
  rmsprop_cuda_step_config config{plan::read_shared(plan_), centered_ ? 1 : 0, 0};
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    build_table(dtype);
    if (table_.empty()) continue;
    config.dtype = plugin_dtype(dtype);
    call(config);
  }
}

void DeviceStep::step(const void* const* grads, const DType* grad_dtypes, bool upload_params, bool write_back) {
  if (released()) throw DeviceError("the optimizer's device memory was released (dispose())");
  if (upload_params) upload(Buffer::kParam);
  if (grads_ready_) {
    grads_ready_ = false;  // may_apply uploaded them
  } else {
    stage_gradients(grads, grad_dtypes);
  }
  for_each_dtype([&](const rmsprop_cuda_step_config& config) {
    check(plugin_.step_async(queue_, table_.data(), table_.size(), &config), "launching the step");
  });
  if (write_back) {
    download(Buffer::kParam);
  } else {
    check(plugin_.synchronize(queue_), "running the step");
  }
}

}  // namespace rmsprop::core

namespace rmsprop::core {

bool DeviceStep::may_apply(const void* const* grads, const DType* grad_dtypes) {
  grads_ready_ = false;
  if (plan_[plan::kCheckFinite] == 0) return true;
  if (released()) throw DeviceError("the optimizer's device memory was released (dispose())");
  stage_gradients(grads, grad_dtypes);
  grads_ready_ = true;
  // The flag is zeroed from the spare end of the staging (its start may still be the source of
  // the gradients' copy), checked by one launch per dtype, and read back there.
  auto* spare = reinterpret_cast<std::uint32_t*>(staging_ + region_bytes_);
  spare[0] = 0;
  check(plugin_.copy_async(queue_, flag_, &spare[0], sizeof(std::uint32_t), RMSPROP_CUDA_HOST_TO_DEVICE), "clearing the check's flag");
  for_each_dtype([&](const rmsprop_cuda_step_config& config) {
    check(plugin_.check_finite_async(queue_, table_.data(), table_.size(), &config, flag_), "checking the gradients");
  });
  check(plugin_.copy_async(queue_, &spare[1], flag_, sizeof(std::uint32_t), RMSPROP_CUDA_DEVICE_TO_HOST), "reading the check's flag");
  check(plugin_.synchronize(queue_), "checking the gradients");
  return spare[1] == 0;
}

}  // namespace rmsprop::core
