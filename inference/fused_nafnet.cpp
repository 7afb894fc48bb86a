#include "inference/fused_nafnet.h"

#include <algorithm>

#include "inference/pixel_kernels.h"

namespace ern::inference {
namespace {

constexpr size_t kMaxPlans = 8;  // input shapes whose primitives are kept

class ParameterSource {
 public:
  explicit ParameterSource(Nafnet& network) : parameters_(network->named_parameters()) {}

  torch::Tensor tensor(const std::string& name) const {
    const auto* found = parameters_.find(name);
    if (!found) throw std::logic_error("fused engine: the network has no parameter " + name);
    return found->detach().clone(at::MemoryFormat::Contiguous);
  }

  ConvParameters conv(const std::string& prefix, int64_t stride = 1, int64_t groups = 1,
                      bool bias = true) const {
    ConvParameters conv;
    conv.weight = tensor(prefix + ".weight");
    if (bias) conv.bias = tensor(prefix + ".bias");
    conv.stride = stride;
    conv.groups = groups;
    return conv;
  }

  BlockParameters block(const std::string& prefix, BlockAlternative alternative) const {
    const auto& traits = traits_of(alternative);
    BlockParameters block;
    block.name = prefix;
    block.layer_norm = traits.layer_norm;
    block.channel_attention = traits.channel_attention;
    block.conv1 = conv(prefix + ".conv1");
    block.conv2 = conv(prefix + ".conv2", 1, block.conv1.weight.size(0));
    block.conv3 = conv(prefix + ".conv3");
    const auto conv4 = conv(prefix + ".conv4");
    const int64_t half = conv4.weight.size(0) / 2;
    block.conv4a = conv4;
    block.conv4a.weight = conv4.weight.narrow(0, 0, half).contiguous();
    block.conv4a.bias = conv4.bias.narrow(0, 0, half).contiguous();
    block.conv4b = conv4;
    block.conv4b.weight = conv4.weight.narrow(0, half, half).contiguous();
    block.conv4b.bias = conv4.bias.narrow(0, half, half).contiguous();
    block.conv5 = conv(prefix + ".conv5");
    if (traits.channel_attention) {
      block.attention_weight = tensor(prefix + ".sca.1.weight").flatten(1);
      block.attention_bias = tensor(prefix + ".sca.1.bias");
    }
    return block;
  }

 private:
  torch::OrderedDict<std::string, torch::Tensor> parameters_;
};

dnnl::memory::dims at_level(const dnnl::memory::dims& input, int64_t width, int level) {
  return {input[0], width << level, input[2] >> level, input[3] >> level};
}

int64_t elements(const dnnl::memory::dims& dims) {
  int64_t count = 1;
  for (auto dim : dims) count *= dim;
  return count;
}

}  // namespace

// The primitives of one input shape.
class NetworkPlan {
 public:
  NetworkPlan(const FusedNafnet& network, const dnnl::memory::dims& input_dims)
      : precision_(network.precision_),
        tiling_(network.tiling_),
        input_dims_(input_dims),
        intro_(network.intro_, input_dims),
        narrow_ending_(network.narrow_ending_ ? &*network.narrow_ending_ : nullptr) {
    if (!narrow_ending_) {
      ending_.emplace(network.ending_, at_level(input_dims, network.architecture_.width, 0),
                      ConvFusion::accumulated());
    }
    const int64_t width = network.architecture_.width;
    const int levels = static_cast<int>(network.encoders_.size());
    for (int level = 0; level <= levels; ++level) {
      activation_dims_.push_back(at_level(input_dims, width, level));
    }
    for (int level = 0; level < levels; ++level) {
      encoders_.push_back(
          stage(network.encoders_[level], activation_dims_[level], activation_dims_[level]));
    }
    middle_ = blocks(network.middle_, activation_dims_[levels]);
    for (int index = 0; index < levels; ++index) {
      const int level = levels - 1 - index;  // the decoders run from the deepest level up
      decoders_.push_back(
          stage(network.decoders_[index], activation_dims_[level], activation_dims_[level + 1]));
    }
    scratchpad_bytes_ =
        std::max(intro_.scratchpad_bytes(), ending_ ? ending_->scratchpad_bytes() : size_t{0});
    for (const auto* stages : {&encoders_, &decoders_}) {
      for (const auto& planned : *stages) {
        scratchpad_bytes_ = std::max(scratchpad_bytes_, planned.resample.scratchpad_bytes());
        for (const auto& block : planned.blocks) include(block);
      }
    }
    for (const auto& block : middle_) include(block);
  }

  const dnnl::memory::dims& input_dims() const { return input_dims_; }

  // Widens the scratch sizes to `block`'s.
  void include(const BlockPlan& block) {
    scratchpad_bytes_ = std::max(scratchpad_bytes_, block.scratchpad_bytes());
    tile_bytes_ = std::max(tile_bytes_, block.tile_bytes());
  }

  // `output` holds a copy of `input` on entry (the global residual adds onto it). With
  // `observed`, its ranges of each block widen (fp32 plans only).
  void run(const float* input, float* output, Int8Calibration* observed) {
    // Every level's activations stay alive (the encoders' are the decoders' skip connections);
    // the scratch buffers serve every level, the first being the largest.
    std::vector<torch::Tensor> activations;
    for (const auto& dims : activation_dims_) activations.push_back(torch::empty(elements(dims)));
    const int64_t largest = elements(activation_dims_[0]);
    auto normalized = torch::empty(largest), gated = torch::empty(largest);
    auto pointwise = torch::empty(2 * largest), expanded = torch::empty(2 * largest);
    auto means = torch::empty(input_dims_[0] * activation_dims_.back()[1]);
    auto scratchpad = torch::empty(static_cast<int64_t>(scratchpad_bytes_ / sizeof(float) + 1));
    // (Each thread's piece starts at a multiple of 64 bytes: LibTorch aligns its buffers so.)
    auto tiles =
        torch::empty(static_cast<int64_t>(at::get_num_threads() * tile_bytes_ / sizeof(float)));
    const Scratch scratch{normalized.data_ptr<float>(), pointwise.data_ptr<float>(),
                          expanded.data_ptr<float>(),   gated.data_ptr<float>(),
                          means.data_ptr<float>(),      scratchpad.data_ptr<float>(),
                          tiles.data_ptr<float>()};
    const auto level = [&](size_t index) { return activations[index].data_ptr<float>(); };
    dnnl::stream stream(cpu_engine());
    const auto run_blocks = [&](std::vector<BlockPlan>& blocks, float* x) {
      for (auto& block : blocks) {
        block.run(stream, x, scratch, observed ? &(*observed)[block.name()] : nullptr);
      }
    };

    intro_.run(stream, input, level(0), scratch.scratchpad);
    for (size_t index = 0; index < encoders_.size(); ++index) {
      run_blocks(encoders_[index].blocks, level(index));
      encoders_[index].resample.run(stream, level(index), level(index + 1), scratch.scratchpad);
    }
    run_blocks(middle_, level(encoders_.size()));
    for (size_t index = 0; index < decoders_.size(); ++index) {
      const size_t target = decoders_.size() - 1 - index;
      const auto& below = activation_dims_[target + 1];
      decoders_[index].resample.run(stream, level(target + 1), scratch.expanded,
                                    scratch.scratchpad);
      stream.wait();
      pixel_shuffle_add(static_cast<const float*>(scratch.expanded), level(target), below[0],
                        below[2], below[3], activation_dims_[target][1]);
      run_blocks(decoders_[index].blocks, level(target));
    }
    // The global residual: output = input + ending(x), accumulated into the copy of the input
    // (as a sum post-op in oneDNN: its fast kernels for three output channels take no binary one).
    if (narrow_ending_) {
      stream.wait();
      narrow_ending_->run_accumulated(level(0), output, input_dims_[0], input_dims_[2],
                                      input_dims_[3]);
    } else {
      ending_->run(stream, level(0), output, scratch.scratchpad);
      stream.wait();
    }
  }

 private:
  struct StagePlan {
    std::vector<BlockPlan> blocks;
    Convolution resample;
  };

  std::vector<BlockPlan> blocks(const std::vector<BlockParameters>& parameters,
                                const dnnl::memory::dims& dims) const {
    std::vector<BlockPlan> planned;
    planned.reserve(parameters.size());
    for (const auto& block : parameters) planned.emplace_back(block, dims, precision_, tiling_);
    return planned;
  }

  // `resample_input`: the encoder's own level (down after the blocks) or, for a decoder, the level
  // below (up before the blocks).
  StagePlan stage(const FusedNafnet::Stage& stage, const dnnl::memory::dims& dims,
                  const dnnl::memory::dims& resample_input) const {
    return {blocks(stage.blocks, dims), Convolution(stage.resample, resample_input)};
  }

  Precision precision_;
  Tiling tiling_;
  dnnl::memory::dims input_dims_;
  std::vector<dnnl::memory::dims> activation_dims_;  // per level
  Convolution intro_;
  const NarrowConvolution* narrow_ending_;  // the network's, where it has one
  std::optional<Convolution> ending_;       // else this
  std::vector<StagePlan> encoders_, decoders_;
  std::vector<BlockPlan> middle_;
  size_t scratchpad_bytes_ = 0;
  size_t tile_bytes_ = 0;  // each thread's, for the blocks' strips and tiles
};

FusedNafnet::FusedNafnet(Nafnet& network, Precision precision, const Int8Calibration& calibration,
                         Tiling tiling)
    : architecture_(network->architecture()),
      precision_(effective_precision(precision)),
      tiling_(tiling) {
  network->prepare_for_inference();  // folds once; a prepared network is left as it is
  const ParameterSource source(network);
  const auto block = [&](const std::string& name, BlockAlternative alternative) {
    auto parameters = source.block(name, alternative);
    if (precision_ == Precision::kInt8) {
      const auto ranges = calibration.find(name);
      if (ranges == calibration.end()) {
        throw std::invalid_argument("metadata.int8_calibration: no ranges for block " + name);
      }
      parameters.int8_ranges = ranges->second;
      equalize_int8_inputs(parameters);
    }
    return parameters;
  };
  intro_ = source.conv("intro");
  ending_ = source.conv("ending");
  if (NarrowConvolution::suits(ending_)) narrow_ending_.emplace(ending_);
  size_t searchable = 0;  // genotype index
  const auto stage_blocks = [&](const std::string& prefix, int count) {
    std::vector<BlockParameters> blocks;
    for (int i = 0; i < count; ++i) {
      const auto alternative = architecture_.alternative_of(searchable++);
      if (traits_of(alternative).identity) continue;
      blocks.push_back(block(prefix + "." + std::to_string(i), alternative));
    }
    return blocks;
  };
  for (size_t s = 0; s < architecture_.encoder_blocks.size(); ++s) {
    const auto index = std::to_string(s);
    encoders_.push_back({stage_blocks("encoders." + index, architecture_.encoder_blocks[s]),
                         source.conv("downs." + index, 2)});
  }
  for (int i = 0; i < architecture_.middle_blocks; ++i) {
    middle_.push_back(block("middle_blks." + std::to_string(i), BlockAlternative::kNaf));
  }
  for (size_t s = 0; s < architecture_.decoder_blocks.size(); ++s) {
    const auto index = std::to_string(s);
    decoders_.push_back({stage_blocks("decoders." + index, architecture_.decoder_blocks[s]),
                         source.conv("ups." + index + ".0", 1, 1, /*bias=*/false)});
  }
}

FusedNafnet::~FusedNafnet() = default;

NetworkPlan& FusedNafnet::plan_for(const dnnl::memory::dims& input_dims) {
  const auto found = std::find_if(plans_.begin(), plans_.end(), [&](const auto& plan) {
    return plan->input_dims() == input_dims;
  });
  if (found != plans_.end()) {
    plans_.splice(plans_.begin(), plans_, found);
  } else {
    plans_.push_front(std::make_unique<NetworkPlan>(*this, input_dims));
    if (plans_.size() > kMaxPlans) plans_.pop_back();
  }
  return *plans_.front();
}

torch::Tensor FusedNafnet::forward(const torch::Tensor& x) { return run(x, nullptr); }

torch::Tensor FusedNafnet::observe(const torch::Tensor& x, Int8Calibration& calibration) {
  if (precision_ != Precision::kFp32) {
    throw std::logic_error("fused engine: calibration observes an fp32 engine");
  }
  return run(x, &calibration);
}

torch::Tensor FusedNafnet::run(const torch::Tensor& x, Int8Calibration* observed) {
  if (x.dim() != 4 || x.size(1) != architecture_.image_channels) {
    throw std::invalid_argument("fused engine: expected [N, " +
                                std::to_string(architecture_.image_channels) + ", H, W] input");
  }
  const int64_t height = x.size(2), width = x.size(3);
  const int64_t multiple = architecture_.size_multiple();
  const int64_t pad_h = (multiple - height % multiple) % multiple;
  const int64_t pad_w = (multiple - width % multiple) % multiple;
  auto padded = (pad_h || pad_w) ? torch::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0) : x;
  padded = padded.to(torch::kFloat).contiguous(torch::MemoryFormat::ChannelsLast);
  // (A copy on every core: the ending convolution adds onto the input.)
  auto output = padded.clone(torch::MemoryFormat::ChannelsLast);
  {
    std::lock_guard lock(mutex_);
    plan_for({padded.size(0), padded.size(1), padded.size(2), padded.size(3)})
        .run(padded.data_ptr<float>(), output.data_ptr<float>(), observed);
  }
  using torch::indexing::Slice;
  return output.index({Slice(), Slice(), Slice(0, height), Slice(0, width)});
}

}  // namespace ern::inference
