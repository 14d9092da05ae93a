#include "data/split.h"

#include "base/check.h"
#include "engine/random.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

namespace cxr::data {

namespace {

// Union-find over patient ids.
class Components {
 public:
  int id(const std::string& patient) {
    auto [it, added] = ids_.try_emplace(patient, static_cast<int>(parent_.size()));
    if (added) parent_.push_back(it->second);
    return it->second;
  }
  int root(int i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void join(int a, int b) {
    a = root(a), b = root(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::map<std::string, int> ids_;
  std::vector<int> parent_;
};

struct Unit {
  std::string key;  // smallest patient id in the unit
  std::vector<std::size_t> items;
  std::map<int, std::int64_t> per_stratum;
  std::optional<Split> fixed;
  int stratum() const {  // the stratum most of its images are in (ties: the smaller)
    return std::max_element(per_stratum.begin(), per_stratum.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  }
};

}  // namespace

SplitFractions parse_split(std::string_view text) {
  std::array<double, 3> v{};
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    const std::size_t end = i < 2 ? text.find(':', pos) : text.size();
    CXR_CHECK(end != std::string_view::npos, "split: expected train:val:test like 70:15:15, got '{}'", text);
    const auto part = text.substr(pos, end - pos);
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    CXR_CHECK(ec == std::errc() && ptr == part.data() + part.size() && v[i] >= 0,
              "split: '{}' in '{}' is not a non-negative number", part, text);
    pos = end + 1;
  }
  const double sum = v[0] + v[1] + v[2];
  CXR_CHECK(v[0] > 0 && sum > 0, "split: the train share must be positive, got '{}'", text);
  return {v[0] / sum, v[1] / sum, v[2] / sum};
}

std::vector<Split> assign_splits(const std::vector<SplitItem>& items,
                                 const std::vector<std::pair<std::string, std::string>>& same_patient,
                                 const std::vector<SplitFractions>& fractions, std::uint64_t seed) {
  Components comps;
  for (const auto& item : items) {
    CXR_CHECK(item.stratum >= 0 && static_cast<std::size_t>(item.stratum) < fractions.size(),
              "split: stratum {} has no fractions ({} given)", item.stratum, fractions.size());
    comps.id(item.patient);
  }
  for (const auto& [a, b] : same_patient) comps.join(comps.id(a), comps.id(b));

  std::map<int, Unit> units;  // by component root
  for (std::size_t i = 0; i < items.size(); ++i) {
    Unit& u = units[comps.root(comps.id(items[i].patient))];
    if (u.key.empty() || items[i].patient < u.key) u.key = items[i].patient;
    u.items.push_back(i);
    ++u.per_stratum[items[i].stratum];
    // A unit fixed to two splits goes to the later one (test wins), keeping it disjoint.
    if (items[i].fixed && (!u.fixed || *items[i].fixed > *u.fixed)) u.fixed = items[i].fixed;
  }

  std::vector<Split> out(items.size(), Split::train);
  auto place = [&](const Unit& u, Split s) {
    for (auto i : u.items) out[i] = s;
  };
  std::map<int, std::vector<const Unit*>> by_stratum;
  for (const auto& [root, u] : units) {
    if (u.fixed) {
      place(u, *u.fixed);
    } else {
      by_stratum[u.stratum()].push_back(&u);
    }
  }

  for (auto& [stratum, list] : by_stratum) {
    std::sort(list.begin(), list.end(), [](const Unit* a, const Unit* b) { return a->key < b->key; });
    Generator gen(mix64(seed) ^ mix64(static_cast<std::uint64_t>(stratum) + 1));
    shuffle(list, gen);

    const SplitFractions& f = fractions[stratum];
    std::vector<Split> active;
    for (Split s : kSplits)
      if (f.of(s) > 0) active.push_back(s);
    auto images = [](const Unit* u) {
      return static_cast<std::int64_t>(u->items.size());
    };
    std::int64_t total = 0;
    for (const Unit* u : list) total += images(u);
    std::array<std::int64_t, 3> assigned{};
    std::size_t next = 0;
    if (list.size() >= active.size()) {
      for (Split s : active) {
        place(*list[next], s);
        assigned[static_cast<int>(s)] += images(list[next++]);
      }
    }
    for (; next < list.size(); ++next) {
      Split best = active.front();
      double best_deficit = -1e300;
      for (Split s : active) {
        const double deficit =
            f.of(s) * static_cast<double>(total) - static_cast<double>(assigned[static_cast<int>(s)]);
        if (deficit > best_deficit) best = s, best_deficit = deficit;
      }
      place(*list[next], best);
      assigned[static_cast<int>(best)] += images(list[next]);
    }
  }
  return out;
}

}  // namespace cxr::data
