#include "devicefarm/memory_tracker.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <mutex>

namespace ern::farm {
namespace {

std::atomic<int64_t> current{0};
std::atomic<int64_t> peak{0};

void raise_peak(int64_t value) {
  int64_t seen = peak.load();
  while (value > seen && !peak.compare_exchange_weak(seen, value)) {
  }
}

// Each allocation carries its size in a header in front of the data. LibTorch requires the data
// pointer to be the deleter's context (raw_allocate asserts it), so no side record is possible.
constexpr size_t kHeader = 64;  // keeps the default allocator's 64-byte alignment
c10::Allocator* inner_allocator = nullptr;

void release(void* data) {
  void* base = static_cast<char*>(data) - kHeader;
  current -= static_cast<int64_t>(*static_cast<size_t*>(base));
  inner_allocator->raw_deleter()(base);
}

class TrackingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    void* base = inner_allocator->raw_allocate(bytes + kHeader);
    *static_cast<size_t*>(base) = bytes;
    raise_peak(current += static_cast<int64_t>(bytes));
    void* data = static_cast<char*>(base) + kHeader;
    return c10::DataPtr(data, data, &release, c10::Device(c10::DeviceType::CPU));
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

}  // namespace

void MemoryTracker::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    inner_allocator = c10::GetCPUAllocator();
    static TrackingAllocator allocator;
    c10::SetCPUAllocator(&allocator, /*priority=*/10);
  });
}

int64_t MemoryTracker::current_bytes() { return current.load(); }
int64_t MemoryTracker::peak_bytes() { return peak.load(); }
void MemoryTracker::reset_peak() { peak.store(current.load()); }

}  // namespace ern::farm
