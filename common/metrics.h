#pragma once
// Prometheus metrics on prometheus-cpp. ERN's families take label values in the order of the
// family's label names (closed sets, counted and checked), a scrape hook sets gauges read at scrape
// time, and the registry is what the pull Exposer collects (metrics_server.h). Observing goes
// straight to prometheus-cpp's metric (atomics for counters and gauges, the library's own lock for
// a histogram); only finding or creating a series takes the family's lock, so hot paths look a
// series up once and keep the reference. A series lives until it is removed.
//
// Names follow ern_<subsystem>_<name>_<unit>; counters end in _total; durations are seconds.

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeinfo>
#include <vector>

namespace ern::metrics {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

class Counter {
 public:
  using Native = prometheus::Counter;
  explicit Counter(prometheus::Counter& counter) : counter_(counter) {}
  void inc(double amount = 1.0) { counter_.Increment(amount); }
  double value() const { return counter_.Value(); }

 private:
  prometheus::Counter& counter_;
};

class Gauge {
 public:
  using Native = prometheus::Gauge;
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(gauge) {}
  void set(double value) { gauge_.Set(value); }
  void add(double amount) { gauge_.Increment(amount); }
  double value() const { return gauge_.Value(); }

 private:
  prometheus::Gauge& gauge_;
};

class Histogram {
 public:
  using Native = prometheus::Histogram;
  explicit Histogram(prometheus::Histogram& histogram) : histogram_(histogram) {}
  void observe(double value) { histogram_.Observe(value); }
  uint64_t count() const;  // observations so far
  double sum() const;

 private:
  prometheus::Histogram& histogram_;
};

// Bucket bounds for durations in seconds, 1 ms .. 60 s.
std::vector<double> duration_buckets();
// 1, 2, 4, ... up to `largest` (e.g. batch sizes).
std::vector<double> power_of_two_buckets(double largest);

template <typename Metric>
class Family {
 public:
  using Native = typename Metric::Native;
  using Adder = std::function<Native&(prometheus::Family<Native>&,
                                      const std::map<std::string, std::string>&)>;
  Family(prometheus::Family<Native>& family, std::vector<std::string> label_names, Adder add)
      : family_(family), label_names_(std::move(label_names)), add_(std::move(add)) {}

  const std::vector<std::string>& label_names() const { return label_names_; }
  // The series for these label values, created on first use. The reference stays valid until
  // `remove` of the same labels. Throws std::invalid_argument for the wrong number of values.
  Metric& with(const Labels& labels = {});
  // Drops the series (e.g. a job's gauges once the job ended).
  void remove(const Labels& labels);

 private:
  prometheus::Family<Native>& family_;
  const std::vector<std::string> label_names_;
  const Adder add_;
  std::mutex mutex_;
  std::map<Labels, std::pair<Native*, std::unique_ptr<Metric>>> series_;
};

class Registry : public prometheus::Collectable {
 public:
  Registry();
  // The same name twice returns the existing family (its type and labels must match); a name
  // Prometheus does not accept throws std::invalid_argument.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);

  // Runs `collect` before every collection (it sets gauges read at scrape time) until the returned
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

  std::vector<prometheus::MetricFamily> Collect() const override;  // what the Exposer asks for
  std::string render() const;  // the text exposition format (0.0.4)

 private:
  template <typename FamilyType>
  FamilyType& remember(const std::string& name, std::vector<std::string> label_names,
                       std::function<std::unique_ptr<FamilyType>()> make);

  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  // Our side of each family, by name, with its type for the "registered differently" check.
  std::map<std::string, std::shared_ptr<void>> families_;
  std::map<std::string, const std::type_info*> family_types_;
  mutable std::mutex collectors_mutex_;  // held while collectors run, so none runs once unhooked
  std::map<uint64_t, std::function<void()>> collectors_;
  uint64_t next_collector_ = 0;
};

// The process's registry: every component of a process (embedded ones too) exposes through it.
Registry& registry();
// The same, shared, for the Exposer (which holds what it collects weakly).
std::shared_ptr<Registry> process_registry();

}  // namespace ern::metrics
