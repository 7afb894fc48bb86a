#include "model/training_gang.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace ern {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kConnectSlice = std::chrono::seconds(1);
constexpr auto kJoinPoll = std::chrono::milliseconds(100);
constexpr const char* kJoinedKey = "ern/joined";

// The rendezvous through c10d's TCPStore, a slice at a time: c10d's own waits (for rank 0 to
// listen, for every member to arrive) cannot be interrupted, and a seat whose attempt has ended
// (`stop`) should not sit out the whole timeout.
c10::intrusive_ptr<c10d::Store> meet(const GangSeat& seat, std::chrono::seconds timeout,
                                     const std::function<bool()>& stop) {
  const auto deadline = Clock::now() + timeout;
  const auto check_stop = [&] {
    if (stop && stop()) throw std::runtime_error("the attempt ended while it waited");
  };
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(seat.rendezvous_port);
  options.isServer = seat.rank == 0;
  options.waitWorkers = false;  // counted below instead
  c10::intrusive_ptr<c10d::TCPStore> store;
  while (!store) {
    check_stop();
    // Rank 0 listens at once; the others try to reach it a second at a time.
    options.timeout =
        seat.rank == 0
            ? std::chrono::milliseconds(timeout)
            : std::chrono::duration_cast<std::chrono::milliseconds>(std::clamp<Clock::duration>(
                  deadline - Clock::now(), std::chrono::milliseconds(1), kConnectSlice));
    try {
      store = c10::make_intrusive<c10d::TCPStore>(seat.rendezvous_host, options);
    } catch (const std::exception&) {
      if (seat.rank == 0 || Clock::now() >= deadline) throw;
    }
  }
  store->setTimeout(timeout);
  store->add(kJoinedKey, 1);
  while (store->add(kJoinedKey, 0) < seat.world_size) {
    check_stop();
    if (Clock::now() >= deadline) {
      throw std::runtime_error("the other members did not all arrive within " +
                               std::to_string(timeout.count()) + " s");
    }
    std::this_thread::sleep_for(kJoinPoll);
  }
  return store;
}

}  // namespace

struct TrainingGang::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> process_group;
};

GangSeat gang_seat(int rank, int world_size, const std::string& rendezvous) {
  GangSeat seat;
  seat.rank = rank;
  seat.world_size = world_size;
  if (world_size <= 1) return seat;
  const auto colon = rendezvous.rfind(':');
  int port = 0;
  if (colon != std::string::npos) {
    const auto digits = rendezvous.substr(colon + 1);
    if (!digits.empty() && digits.size() <= 5 &&
        digits.find_first_not_of("0123456789") == std::string::npos) {
      port = std::stoi(digits);
    }
  }
  if (colon == std::string::npos || colon == 0 || port < 1 || port > 65535) {
    throw std::invalid_argument("rendezvous: expected HOST:PORT, got '" +
                                rendezvous.substr(0, 128) + "'");
  }
  seat.rendezvous_host = rendezvous.substr(0, colon);
  seat.rendezvous_port = port;
  return seat;
}

TrainingGang::TrainingGang() = default;

TrainingGang::TrainingGang(const GangSeat& seat, torch::Device device, std::chrono::seconds timeout,
                           const std::function<bool()>& stop)
    : seat_(seat) {
  if (seat.world_size < 1 || seat.rank < 0 || seat.rank >= seat.world_size) {
    throw std::invalid_argument("gang: rank " + std::to_string(seat.rank) + " of " +
                                std::to_string(seat.world_size) + " does not exist");
  }
  if (seat.world_size == 1) return;
  if (device.is_cuda()) {
    throw std::invalid_argument("gang: this LibTorch build has no NCCL; CUDA gangs need one");
  }
  const std::string where = seat.rendezvous_host + ":" + std::to_string(seat.rendezvous_port);
  try {
    group_ = std::make_unique<Group>();
    group_->store = meet(seat, timeout, stop);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->timeout = timeout;
    // Each member's own address for the gang's traffic: loopback for a gang on one machine.
    gloo->devices.push_back(seat.rendezvous_host == "127.0.0.1" ||
                                    seat.rendezvous_host == "localhost"
                                ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
    group_->process_group = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, seat.rank,
                                                                        seat.world_size, gloo);
  } catch (const std::exception& error) {
    throw std::runtime_error("gang: rank " + std::to_string(seat.rank) + " could not join at " +
                             where + ": " + error.what());
  }
}

TrainingGang::~TrainingGang() = default;
TrainingGang::TrainingGang(TrainingGang&&) noexcept = default;
TrainingGang& TrainingGang::operator=(TrainingGang&&) noexcept = default;

void TrainingGang::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (!group_) return;
  // One flat buffer, one all-reduce: many small calls would each pay a round trip.
  std::vector<torch::Tensor> grads;
  for (const auto& parameter : parameters) {
    grads.push_back(parameter.grad().defined()
                        ? parameter.grad().reshape(-1)
                        : torch::zeros({parameter.numel()}, parameter.options()));
  }
  std::vector<torch::Tensor> flat{torch::cat(grads)};
  group_->process_group->allreduce(flat)->wait();
  flat[0].div_(seat_.world_size);
  int64_t offset = 0;
  torch::NoGradGuard no_grad;
  for (const auto& parameter : parameters) {
    const int64_t count = parameter.numel();
    if (parameter.grad().defined()) {
      parameter.mutable_grad().copy_(flat[0].narrow(0, offset, count).view_as(parameter));
    }
    offset += count;
  }
}

void TrainingGang::broadcast(torch::Tensor& tensor) {
  if (!group_) return;
  std::vector<torch::Tensor> tensors{tensor};
  group_->process_group->broadcast(tensors)->wait();
}

NoisyBatch TrainingGang::next_batch(TrainingData& data, int batch, int patch) const {
  if (seat_.world_size == 1) return data.next_batch(batch, patch);
  auto global = data.next_batch(batch * seat_.world_size, patch);
  const int64_t first = int64_t{seat_.rank} * batch;
  return {global.noisy.narrow(0, first, batch).contiguous(),
          global.clean.narrow(0, first, batch).contiguous()};
}

}  // namespace ern
