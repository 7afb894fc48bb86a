#pragma once
// Prometheus metrics: counters, gauges and histograms in labelled families, rendered in the text
// exposition format (0.0.4). Observing is lock-free (atomics); only finding or creating a labelled
// series takes the family's lock, so hot paths look a series up once and keep the reference.
// Families live as long as the registry; a series until it is removed.
//
// Names follow ern_<subsystem>_<name>_<unit>; counters end in _total; durations are seconds.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ern::metrics {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

class Counter {
 public:
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending upper bounds, +Inf implied
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, the +Inf bucket last.
  std::vector<uint64_t> bucket_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// Bucket bounds for durations in seconds, 1 ms .. 60 s.
std::vector<double> duration_buckets();
// 1, 2, 4, ... up to `largest` (e.g. batch sizes).
std::vector<double> power_of_two_buckets(double largest);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  void render(std::string& out) const;

 protected:
  virtual void render_samples(std::string& out) const = 0;  // called with mutex_ held
  void check_labels(const Labels& labels) const;
  // `{a="x",b="y"` without the closing brace (histograms append `le`); empty for no labels.
  std::string open_label_text(const Labels& labels) const;

  mutable std::mutex mutex_;

 private:
  const std::string name_, help_, type_;
  const std::vector<std::string> label_names_;
};

template <typename Metric>
class Family : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory factory);

  // The series for these label values, created on first use. The reference stays valid until
  // `remove` of the same labels.
  Metric& with(const Labels& labels = {});
  // Drops the series (e.g. a job's gauges once the job ended).
  void remove(const Labels& labels);

 private:
  void render_samples(std::string& out) const override;

  Factory factory_;
  std::map<Labels, std::unique_ptr<Metric>> series_;
};

class Registry {
 public:
  // The same name twice returns the existing family (its type and labels must match).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);

  // Runs `collect` before every rendering (it sets gauges read at scrape time) until the returned
  // hook is destroyed.
  class ScrapeHook {
   public:
    ScrapeHook(Registry& registry, uint64_t id) : registry_(registry), id_(id) {}
    ~ScrapeHook();
    ScrapeHook(const ScrapeHook&) = delete;
    ScrapeHook& operator=(const ScrapeHook&) = delete;

   private:
    Registry& registry_;
    uint64_t id_;
  };
  [[nodiscard]] std::unique_ptr<ScrapeHook> on_scrape(std::function<void()> collect);
  std::string render() const;

 private:
  template <typename Metric>
  Family<Metric>& family(const std::string& name, std::unique_ptr<Family<Metric>> made);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  mutable std::mutex collectors_mutex_;  // held while collectors run, so none runs once unhooked
  std::map<uint64_t, std::function<void()>> collectors_;
  uint64_t next_collector_ = 0;
};

// The process's registry: every component of a process (embedded ones too) exposes through it.
Registry& registry();

}  // namespace ern::metrics
