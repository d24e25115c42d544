// The optimizer on a device: parameters and state in device memory of a plugin (the CUDA
// plugin, or its host emulator in tests) loaded with dlopen, host gradients uploaded through
// reused page-locked staging, parameters written back on request. No JavaScript here; the
// N-API layer (binding/napi/optimizer.cc) only converts arguments.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "device_plugin.h"
#include "stepper.h"

namespace rmsprop::core {

// A failed plugin call, with the plugin's message.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which buffers of every tensor a transfer moves.
enum class Buffer { kParam, kMeanSquare, kMoment, kMeanGrad, kGrad, kMaster };

class DeviceStep final : public Stepper {
 public:
  // Allocates the device buffers and staging and uploads the parameters and state from the
  // host `tensors` (whose buffers stay owned by the caller and are the host side of every
  // transfer). `plan` as for MultiTensorStep. With `sync_params`, step(grads) uploads the host
  // parameters first and writes the updated ones back (the host arrays stay the truth, as on
  // the CPU). Throws DeviceError.
  DeviceStep(const DevicePlugin& plugin, std::vector<TensorSlot> tensors, const double* plan, bool centered,
             bool sync_params = false);
  ~DeviceStep();
  DeviceStep(const DeviceStep&) = delete;
  DeviceStep& operator=(const DeviceStep&) = delete;

  // One step. `grads`: one host pointer per tensor to upload first, or null to use what the
  // device gradient buffers hold; `grad_dtypes` their types (null: each tensor's own; a
  // half-precision tensor's may be float32). With `upload_params`, the host parameters are
  // uploaded first; with `write_back`, the updated parameters are copied back into them.
  // Returns when the device is done. Not concurrently on one object.
  void step(const void* const* grads, const DType* grad_dtypes, bool upload_params, bool write_back);

  // Stepper: one step, syncing the parameters as constructed. Throws DeviceError.
  void step(const void* const* grads, const DType* grad_dtypes) override {
    step(grads, grad_dtypes, sync_params_, sync_params_);
  }
  // With the plan's check (plan::kCheckFinite): uploads the gradients (the step then does not
  // again), checks them on the device (one launch per dtype, one 4-byte flag read back: no
  // transfer per tensor) and says whether the step may apply. Without it: true.
  bool may_apply(const void* const* grads, const DType* grad_dtypes) override;
  DeviceStep* device() override { return this; }

  // Host -> device or device -> host for one kind of buffer of every tensor (gradients: `from`
  // gives the host pointers and `dtypes` their types, null: each tensor's own; other kinds use
  // the registered host buffers). Master copies: only the tensors that have one.
  void upload(Buffer buffer, const void* const* from = nullptr, const DType* dtypes = nullptr);
  void download(Buffer buffer);

  // Frees the device memory and staging now (the destructor does otherwise); later calls throw.
  void release() noexcept;
  bool released() const { return queue_ == nullptr; }

  std::size_t size() const override { return tensors_.size(); }
  const TensorSlot& tensor(std::size_t i) const override { return tensors_[i]; }
  // Device address of buffer `b` of tensor `i` (0 for an empty tensor, no mean_grad or no master).
  // A half-precision tensor's gradient buffer holds its dtype for device gradients.
  std::uintptr_t device_address(std::size_t i, Buffer b) const;

 private:
  void check(int code, const char* what) const;
  // The step's tensor records of one dtype into table_ (empty when it has none).
  void build_table(DType dtype);
  // call(config) for each dtype that has tensors, with table_ holding their records.
  template <class Call>
  void for_each_dtype(Call call);
  // Host gradients uploaded (their dtypes recorded), or null: the device's, of each parameter's dtype.
  void stage_gradients(const void* const* grads, const DType* grad_dtypes);
  void* host_buffer(std::size_t i, Buffer b) const;
  char* region(Buffer b) const;
  // Bytes of buffer `b` of tensor `i` (0 where it has none); a gradient of type `grad`.
  std::size_t buffer_bytes(std::size_t i, Buffer b, DType grad) const;

  const DevicePlugin& plugin_;
  std::vector<TensorSlot> tensors_;
  std::vector<std::size_t> offset_;  // bytes from the start of each region (256-byte aligned)
  std::size_t region_bytes_ = 0;     // bytes of one region (every tensor of one kind)
  const double* plan_;
  bool centered_;
  bool sync_params_;
  rmsprop_cuda_queue queue_ = nullptr;
  bool masters_ = false;     // some tensor has a master copy (a region for them)
  std::vector<std::uint8_t> grad_float32_;  // per tensor: its device gradient is float32
  char* device_ = nullptr;   // regions: param, mean_square, moment, [mean_grad], grad, [master]
  char* staging_ = nullptr;  // page-locked, one region
  std::vector<rmsprop_cuda_tensor> table_;  // reused at every step
  bool grads_ready_ = false;  // may_apply uploaded this step's gradients already
  std::uint32_t* flag_ = nullptr;  // device: the finite check's flag (in the device allocation)
};

}  // namespace rmsprop::core
