#include "common/metrics.h"

#include <prometheus/text_serializer.h>

#include <stdexcept>

namespace ern::metrics {
namespace {

std::map<std::string, std::string> labelled(const std::vector<std::string>& names,
                                            const Labels& values, const std::string& family) {
  if (values.size() != names.size()) {
    throw std::invalid_argument("metric " + family + ": " + std::to_string(values.size()) +
                                " label values for " + std::to_string(names.size()) + " labels");
  }
  std::map<std::string, std::string> labels;
  for (size_t i = 0; i < names.size(); ++i) labels.emplace(names[i], values[i]);
  return labels;
}

}  // namespace

uint64_t Histogram::count() const { return histogram_.Collect().histogram.sample_count; }

double Histogram::sum() const { return histogram_.Collect().histogram.sample_sum; }

std::vector<double> duration_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> power_of_two_buckets(double largest) {
  std::vector<double> bounds;
  for (double bound = 1; bound <= largest; bound *= 2) bounds.push_back(bound);
  return bounds;
}

template <typename Metric>
Metric& Family<Metric>::with(const Labels& labels) {
  const auto named = labelled(label_names_, labels, family_.GetName());
  std::lock_guard lock(mutex_);
  auto& [native, series] = series_[labels];
  if (!series) {
    native = &add_(family_, named);
    series = std::make_unique<Metric>(*native);
  }
  return *series;
}

template <typename Metric>
void Family<Metric>::remove(const Labels& labels) {
  std::lock_guard lock(mutex_);
  const auto found = series_.find(labels);
  if (found == series_.end()) return;
  family_.Remove(found->second.first);
  series_.erase(found);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}

template <typename FamilyType>
FamilyType& Registry::remember(const std::string& name, std::vector<std::string> label_names,
                               std::function<std::unique_ptr<FamilyType>()> make) {
  std::lock_guard lock(mutex_);
  const auto found = families_.find(name);
  if (found != families_.end()) {
    auto* same = *family_types_.at(name) == typeid(FamilyType)
                     ? static_cast<FamilyType*>(found->second.get())
                     : nullptr;
    if (!same || same->label_names() != label_names) {
      throw std::invalid_argument("metric " + name + " is already registered differently");
    }
    return *same;
  }
  std::shared_ptr<FamilyType> made = make();
  families_.emplace(name, made);
  family_types_.emplace(name, &typeid(FamilyType));
  return *made;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  return remember<Family<Counter>>(name, label_names, [&] {
    auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
    return std::make_unique<Family<Counter>>(
        family, label_names,
        [](auto& f, const auto& labels) -> prometheus::Counter& { return f.Add(labels); });
  });
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  return remember<Family<Gauge>>(name, label_names, [&] {
    auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
    return std::make_unique<Family<Gauge>>(
        family, label_names,
        [](auto& f, const auto& labels) -> prometheus::Gauge& { return f.Add(labels); });
  });
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  return remember<Family<Histogram>>(name, label_names, [&] {
    auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
    return std::make_unique<Family<Histogram>>(
        family, label_names, [bounds](auto& f, const auto& labels) -> prometheus::Histogram& {
          return f.Add(labels, prometheus::Histogram::BucketBoundaries(bounds));
        });
  });
}

std::unique_ptr<Registry::ScrapeHook> Registry::on_scrape(std::function<void()> collect) {
  std::lock_guard lock(collectors_mutex_);
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return std::make_unique<ScrapeHook>(*this, id);
}

Registry::ScrapeHook::~ScrapeHook() {
  std::lock_guard lock(registry_.collectors_mutex_);
  registry_.collectors_.erase(id_);
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  {
    std::lock_guard lock(collectors_mutex_);
    for (const auto& [id, collect] : collectors_) collect();
  }
  return registry_->Collect();
}

std::string Registry::render() const { return prometheus::TextSerializer().Serialize(Collect()); }

std::shared_ptr<Registry> process_registry() {
  static const auto the_registry = std::make_shared<Registry>();
  return the_registry;
}

Registry& registry() { return *process_registry(); }

}  // namespace ern::metrics
