#pragma once
// The members of one training run spread over several workers (a gang): each knows its rank and
// the world size, and they average gradients every step through PyTorch's own distributed layer
// (c10d: Gloo on CPU, NCCL on CUDA), never a home-made all-reduce. Each rank takes its own slice
// of the gang's global batch, so N members with batch b train exactly as one worker with batch
// N x b. A gang of one is a plain single-process run: nothing is communicated.

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/dataset.h"

namespace ern {

struct GangSeat {
  int rank = 0;
  int world_size = 1;
  // Where rank 0 serves c10d's TCPStore (rank 0 listens there; the others connect).
  std::string rendezvous_host = "127.0.0.1";
  int rendezvous_port = 0;
};

// A seat from its parts; `rendezvous` is "HOST:PORT" (ignored for a gang of one). Throws
// std::invalid_argument naming what is wrong.
GangSeat gang_seat(int rank, int world_size, const std::string& rendezvous);

class TrainingGang {
 public:
  // A gang of one: every operation is local.
  TrainingGang();
  // Joins the gang of `seat.world_size` members (blocks until all are there, at most `timeout`).
  // Throws std::runtime_error naming the rendezvous when it cannot be formed, or within about a
  // second of `stop` (when given) returning true while it waits.
  TrainingGang(const GangSeat& seat, torch::Device device,
               std::chrono::seconds timeout = std::chrono::seconds(300),
               const std::function<bool()>& stop = {});
  ~TrainingGang();
  TrainingGang(TrainingGang&&) noexcept;
  TrainingGang& operator=(TrainingGang&&) noexcept;

  int rank() const { return seat_.rank; }
  int world_size() const { return seat_.world_size; }
  // Rank 0 reports, checkpoints, measures and exports for the gang.
  bool leader() const { return seat_.rank == 0; }

  // Every parameter's gradient summed over the gang and divided by the world size, in place.
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // `tensor` as rank 0 holds it, on every rank (in place).
  void broadcast(torch::Tensor& tensor);
  // This rank's share of a global batch of world_size x `batch` images drawn the same way on
  // every rank (the same seeds), so the gang's data order equals a single worker's.
  NoisyBatch next_batch(TrainingData& data, int batch, int patch) const;

 private:
  struct Group;
  GangSeat seat_;
  std::unique_ptr<Group> group_;
};

}  // namespace ern
