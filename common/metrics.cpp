#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace ern::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {  // the shortest of 15 or 17 digits that reads back as the same double
    std::snprintf(text, sizeof text, "%.15g", value);
    if (std::strtod(text, nullptr) != value) std::snprintf(text, sizeof text, "%.17g", value);
  }
  return text;
}

// Backslashes and newlines escaped (HELP text); label values also escape double quotes.
std::string escaped(const std::string& text, bool quotes) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || (quotes && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool valid_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

void append_sample(std::string& out, const std::string& name, const std::string& open_labels,
                   double value) {
  out += name;
  if (!open_labels.empty()) out += open_labels + "}";
  out += ' ';
  out += format_value(value);
  out += '\n';
}

}  // namespace

void Counter::inc(double amount) {
  if (amount < 0) throw std::invalid_argument("a counter only goes up");
  atomic_add(value_, amount);
}

void Gauge::add(double amount) { atomic_add(value_, amount); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("histogram bounds must ascend");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double value) {
  // The first bucket whose upper bound holds the value (`le` is inclusive).
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, value);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = counts_[i].load(std::memory_order_relaxed);
  return counts;
}

std::vector<double> duration_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> power_of_two_buckets(double largest) {
  std::vector<double> bounds;
  for (double bound = 1; bound <= largest; bound *= 2) bounds.push_back(bound);
  return bounds;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {
  if (!valid_name(name_)) throw std::invalid_argument("metric name '" + name_ + "' is not valid");
  for (const auto& label : label_names_) {
    if (!valid_name(label) || label.find(':') != std::string::npos || label == "le") {
      throw std::invalid_argument("metric " + name_ + ": label name '" + label + "' is not valid");
    }
  }
}

void FamilyBase::render(std::string& out) const {
  out += "# HELP " + name_ + " " + escaped(help_, false) + "\n";
  out += "# TYPE " + name_ + " " + type_ + "\n";
  std::lock_guard lock(mutex_);
  render_samples(out);
}

void FamilyBase::check_labels(const Labels& labels) const {
  if (labels.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": " + std::to_string(label_names_.size()) +
                                " label values expected, got " + std::to_string(labels.size()));
  }
}

std::string FamilyBase::open_label_text(const Labels& labels) const {
  std::string text;
  for (size_t i = 0; i < labels.size(); ++i) {
    text += (i == 0 ? "{" : ",") + label_names_[i] + "=\"" + escaped(labels[i], true) + "\"";
  }
  return text;
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       Factory factory)
    : FamilyBase(std::move(name), std::move(help),
                 std::is_same_v<Metric, Counter> ? "counter"
                 : std::is_same_v<Metric, Gauge> ? "gauge"
                                                 : "histogram",
                 std::move(label_names)),
      factory_(std::move(factory)) {}

template <typename Metric>
Metric& Family<Metric>::with(const Labels& labels) {
  check_labels(labels);
  std::lock_guard lock(mutex_);
  auto& series = series_[labels];
  if (!series) series = factory_();
  return *series;
}

template <typename Metric>
void Family<Metric>::remove(const Labels& labels) {
  std::lock_guard lock(mutex_);
  series_.erase(labels);
}

template <>
void Family<Counter>::render_samples(std::string& out) const {
  for (const auto& [labels, counter] : series_) {
    append_sample(out, name(), open_label_text(labels), counter->value());
  }
}

template <>
void Family<Gauge>::render_samples(std::string& out) const {
  for (const auto& [labels, gauge] : series_) {
    append_sample(out, name(), open_label_text(labels), gauge->value());
  }
}

template <>
void Family<Histogram>::render_samples(std::string& out) const {
  for (const auto& [labels, histogram] : series_) {
    const std::string open = open_label_text(labels);
    const std::string le_prefix = (open.empty() ? "{" : open + ",") + "le=\"";
    const auto counts = histogram->bucket_counts();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      const std::string bound =
          i < histogram->bounds().size() ? format_value(histogram->bounds()[i]) : "+Inf";
      out += name() + "_bucket" + le_prefix + bound + "\"} " + format_value(cumulative) + "\n";
    }
    append_sample(out, name() + "_sum", open, histogram->sum());
    append_sample(out, name() + "_count", open, static_cast<double>(cumulative));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& Registry::family(const std::string& name, std::unique_ptr<Family<Metric>> made) {
  std::lock_guard lock(mutex_);
  for (auto& existing : families_) {
    if (existing->name() != name) continue;
    auto* same = dynamic_cast<Family<Metric>*>(existing.get());
    if (!same || same->label_names() != made->label_names()) {
      throw std::invalid_argument("metric " + name + " is already registered differently");
    }
    return *same;
  }
  families_.push_back(std::move(made));
  return static_cast<Family<Metric>&>(*families_.back());
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  return family(name, std::make_unique<Family<Counter>>(name, help, std::move(label_names), [] {
                  return std::make_unique<Counter>();
                }));
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  return family(name, std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                                      [] { return std::make_unique<Gauge>(); }));
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  return family(name,
                std::make_unique<Family<Histogram>>(name, help, std::move(label_names), [bounds] {
                  return std::make_unique<Histogram>(bounds);
                }));
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

std::string Registry::render() const {
  {
    std::lock_guard lock(collectors_mutex_);
    for (const auto& [id, collect] : collectors_) collect();
  }
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

Registry& registry() {
  static Registry the_registry;
  return the_registry;
}

}  // namespace ern::metrics
