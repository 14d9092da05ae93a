#include "data/build.h"

#include "base/check.h"
#include "base/parallel.h"
#include "data/dataset_writer.h"
#include "data/ieee8023.h"
#include "data/kermany.h"
#include "data/labels.h"
#include "data/manifest.h"
#include "data/nih.h"
#include "engine/data/cache_file.h"
#include "engine/data/sha256.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace cxr::data {

namespace fs = std::filesystem;

namespace {

// The dataset is assembled in a hidden sibling of the output directory and renamed
// into place when complete; on any failure the sibling is removed.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& out)
      : path_(out.parent_path() / fmt::format(".{}.partial-{}", out.filename().string(), ::getpid())) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~StagingDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const fs::path& path() const { return path_; }

  void commit(const fs::path& out, bool overwrite) {
    fs::path old;
    if (fs::exists(out)) {
      CXR_CHECK(overwrite, "data build: {} already exists (pass --overwrite to replace it)", out.string());
      old = out.parent_path() / fmt::format(".{}.old-{}", out.filename().string(), ::getpid());
      fs::rename(out, old);
    }
    fs::rename(path_, out);
    path_.clear();
    if (!old.empty()) fs::remove_all(old);
  }

 private:
  fs::path path_;
};

// Fixed-size image slots: written by the worker threads (pwrite, any order), then
// mapped and read in manifest order.
class SlotFile {
 public:
  SlotFile(const fs::path& path, std::size_t slot_bytes, std::size_t slots)
      : path_(path), slot_bytes_(slot_bytes), bytes_(slot_bytes * slots) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CXR_CHECK(fd_ >= 0, "data build: cannot create {}: {}", path.string(), std::strerror(errno));
  }
  ~SlotFile() {
    if (map_) ::munmap(map_, bytes_);
    ::close(fd_);
    std::error_code ec;
    fs::remove(path_, ec);
  }
  SlotFile(const SlotFile&) = delete;
  SlotFile& operator=(const SlotFile&) = delete;

  void write(std::size_t slot, const std::uint8_t* data) {
    std::size_t done = 0;
    while (done < slot_bytes_) {
      const ssize_t n = ::pwrite(fd_, data + done, slot_bytes_ - done, static_cast<off_t>(slot * slot_bytes_ + done));
      CXR_CHECK(n > 0 || errno == EINTR, "data build: cannot write {}: {}", path_.string(), std::strerror(errno));
      if (n > 0) done += static_cast<std::size_t>(n);
    }
  }
  const std::uint8_t* read(std::size_t slot) {
    if (!map_) {
      CXR_CHECK(::ftruncate(fd_, static_cast<off_t>(bytes_)) == 0, "data build: cannot size {}", path_.string());
      map_ = ::mmap(nullptr, bytes_, PROT_READ, MAP_SHARED, fd_, 0);
      CXR_CHECK(map_ != MAP_FAILED, "data build: cannot map {}: {}", path_.string(), std::strerror(errno));
    }
    return static_cast<const std::uint8_t*>(map_) + slot * slot_bytes_;
  }

 private:
  fs::path path_;
  std::size_t slot_bytes_, bytes_;
  int fd_ = -1;
  void* map_ = nullptr;
};

struct Processed {
  std::string error, detail;  // error is a skip reason; empty when the image is usable
  std::string file_sha256;
  Digest pixels{};  // of width, height and the decoded grey pixels
};

Processed process(const Candidate& c, const BuildOptions& opt, std::uint8_t* resized) {
  Processed p;
  std::error_code ec;
  const auto bytes = fs::file_size(c.file, ec);
  if (ec) {
    p.error = "unreadable_file";
    p.detail = ec.message();
    return p;
  }
  if (static_cast<std::int64_t>(bytes) > opt.limits.max_file_bytes) {
    p.error = "image_too_large";
    p.detail = fmt::format("{} bytes exceeds the limit of {}", bytes, opt.limits.max_file_bytes);
    return p;
  }
  std::vector<std::uint8_t> data(bytes);
  std::ifstream in(c.file, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(bytes))) {
    p.error = "unreadable_file";
    p.detail = "read failed";
    return p;
  }
  p.file_sha256 = to_hex(sha256(data));
  DecodeResult d = decode_grey(data, opt.limits);
  if (!d.ok()) {
    p.error = std::move(d.error);
    p.detail = std::move(d.detail);
    return p;
  }
  Sha256 h;
  const std::uint32_t dims[2] = {static_cast<std::uint32_t>(d.image.width), static_cast<std::uint32_t>(d.image.height)};
  h.update({reinterpret_cast<const std::uint8_t*>(dims), sizeof dims});
  h.update(d.image.pixels);
  p.pixels = h.finish();
  fit_square(resized, opt.size, d.image, opt.fit);
  return p;
}

// Runs fn(i, worker) for i in [0, n) on `threads` threads (dynamic: images differ
// in cost), reporting progress from the calling thread. The first exception stops
// the work and is rethrown here.
void run_workers(std::int64_t n, int threads, const std::function<void(std::int64_t, int)>& fn,
                 const ProgressFn& progress, std::string_view stage) {
  std::atomic<std::int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable finished;
  int running = threads;
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (std::int64_t i; !failed && (i = next++) < n; ++done) fn(i, t);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
      std::lock_guard lock(mutex);
      if (--running == 0) finished.notify_one();
    });
  }
  {
    std::unique_lock lock(mutex);
    while (!finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; })) {
      if (progress) {
        lock.unlock();
        progress(stage, done, n);
        lock.lock();
      }
    }
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(stage, n, n);
}

void append(SourceScan& all, SourceScan&& scan) {
  std::move(scan.candidates.begin(), scan.candidates.end(), std::back_inserter(all.candidates));
  std::move(scan.excluded.begin(), scan.excluded.end(), std::back_inserter(all.excluded));
  std::move(scan.skipped.begin(), scan.skipped.end(), std::back_inserter(all.skipped));
  std::move(scan.same_patient.begin(), scan.same_patient.end(), std::back_inserter(all.same_patient));
}

std::string item_name(const Candidate& c) {
  return fmt::format("{}/{}", source_name(c.source), c.source_path);
}

fs::path output_path(const fs::path& dir) {
  fs::path out = fs::absolute(dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "out/" -> "out"
  return out;
}

void validate(const BuildOptions& opt) {
  CXR_CHECK(!opt.covid_dir.empty() || !opt.kermany_dir.empty() || !opt.nih_dir.empty(),
            "data build: give at least one of --covid, --kermany, --nih");
  CXR_CHECK(!opt.out_dir.empty(), "data build: --out is required");
  CXR_CHECK(opt.size >= 8 && opt.size <= 4096, "data build: --size must be in [8, 4096], got {}", opt.size);
  CXR_CHECK(opt.num_classes == 3 || opt.num_classes == 4, "data build: --classes must be 3 or 4, got {}",
            opt.num_classes);
  const auto& f = opt.fractions;
  CXR_CHECK(f.train > 0 && f.val >= 0 && f.test >= 0 && std::abs(f.train + f.val + f.test - 1.0) < 1e-9,
            "data build: split fractions must be non-negative, sum to 1, and train > 0");
}

// Exact duplicates among the usable candidates (keep[i]): the first copy stays,
// the others are dropped, all copies when their labels differ. Copies' patients are
// tied together for the split.
std::vector<DuplicateGroup> remove_duplicates(SourceScan& scan, const std::vector<Processed>& results,
                                              std::vector<bool>& keep) {
  const auto& cands = scan.candidates;
  std::map<Digest, std::vector<std::size_t>> by_pixels;
  for (std::size_t i = 0; i < cands.size(); ++i)
    if (keep[i]) by_pixels[results[i].pixels].push_back(i);
  std::vector<std::vector<std::size_t>> lists;
  for (auto& [digest, list] : by_pixels)
    if (list.size() > 1) lists.push_back(std::move(list));
  std::sort(lists.begin(), lists.end());  // in candidate order, not digest order

  std::vector<DuplicateGroup> groups;
  for (const auto& list : lists) {
    DuplicateGroup g;
    for (auto i : list) g.conflicting_labels = g.conflicting_labels || cands[i].label != cands[list[0]].label;
    if (!g.conflicting_labels) g.kept = item_name(cands[list[0]]);
    for (std::size_t k = g.conflicting_labels ? 0 : 1; k < list.size(); ++k) {
      const auto& c = cands[list[k]];
      keep[list[k]] = false;
      g.removed.push_back(item_name(c));
      scan.skipped.push_back({c.source, c.source_path,
                              g.conflicting_labels ? "duplicate_conflicting_labels" : "duplicate_image",
                              g.conflicting_labels ? "copies of these pixels have different labels"
                                                   : fmt::format("same pixels as {}", g.kept)});
    }
    for (std::size_t k = 1; k < list.size(); ++k)
      scan.same_patient.emplace_back(cands[list[0]].patient, cands[list[k]].patient);
    groups.push_back(std::move(g));
  }
  return groups;
}

// The stratum of a (source, target): source x class first, numbered as before label
// sets and new sources existed (source * classes + class), then source x label set.
// Adding a source or a label set adds strata without renumbering the old ones, and a
// stratum's own seed depends on its number, so the patients of a dataset built
// before keep their splits: a model trained on the earlier build is never tested on
// its own training images.
int stratum_of(Source source, int target, int num_classes) {
  const int s = static_cast<int>(source);
  if (target < num_classes) return s * num_classes + target;
  const int sets = num_targets(num_classes) - num_classes;
  return kNumSources * num_classes + s * sets + (target - num_classes);
}

// Splits the kept candidates by patient, stratified by source x target.
std::vector<Split> split_kept(const BuildOptions& opt, const SourceScan& scan, const std::vector<std::size_t>& kept) {
  const auto& f = opt.fractions;
  const int targets = num_targets(opt.num_classes);
  const SplitFractions kermany =
      opt.keep_kermany_test ? SplitFractions{f.train / (f.train + f.val), f.val / (f.train + f.val), 0.0} : f;
  std::vector<SplitFractions> strata(kNumSources * targets, f);
  for (int t = 0; t < targets; ++t) strata[stratum_of(Source::kermany, t, opt.num_classes)] = kermany;
  std::vector<SplitItem> items;
  for (auto i : kept) {
    const auto& c = scan.candidates[i];
    const bool official_test = opt.keep_kermany_test && c.official_split == Split::test;
    items.push_back({c.patient, stratum_of(c.source, c.label, opt.num_classes),
                     official_test ? std::optional<Split>(Split::test) : std::nullopt});
  }
  return assign_splits(items, scan.same_patient, strata, opt.seed);
}

// Mean and standard deviation of the train images' pixels in [0, 1], from exact
// integer sums (so the result does not depend on summation order).
void train_pixel_stats(BuildStats& stats, const std::vector<ManifestRow>& rows, const std::vector<std::size_t>& kept,
                       SlotFile& slots, std::size_t image_bytes) {
  std::uint64_t sum = 0, sum_sq = 0, count = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k].split != Split::train) continue;
    const std::uint8_t* px = slots.read(kept[k]);
    for (std::size_t j = 0; j < image_bytes; ++j) sum += px[j], sum_sq += std::uint64_t{px[j]} * px[j];
    count += image_bytes;
  }
  if (count == 0) return;
  stats.pixel_mean = static_cast<double>(sum) / (255.0 * static_cast<double>(count));
  const double mean_sq = static_cast<double>(sum_sq) / (255.0 * 255.0 * static_cast<double>(count));
  stats.pixel_std = std::sqrt(std::max(mean_sq - stats.pixel_mean * stats.pixel_mean, 1e-12));
}

BuildStats build(const BuildOptions& opt, const ProgressFn& progress) {
  validate(opt);
  const fs::path out = output_path(opt.out_dir);
  CXR_CHECK(opt.overwrite || !fs::exists(out), "data build: {} already exists (pass --overwrite to replace it)",
            out.string());
  BuildStats stats;
  stats.size = opt.size;
  stats.num_classes = opt.num_classes;
  stats.fit = std::string(fit_name(opt.fit));
  stats.fractions = opt.fractions;
  stats.seed = opt.seed;
  stats.keep_kermany_test = opt.keep_kermany_test;
  stats.covid_dir = opt.covid_dir.string();
  stats.kermany_dir = opt.kermany_dir.string();
  stats.nih_dir = opt.nih_dir.string();

  // 1. Select.
  SourceScan scan;
  if (!opt.covid_dir.empty()) append(scan, select_ieee8023(opt.covid_dir, opt.num_classes));
  if (!opt.kermany_dir.empty()) append(scan, scan_kermany(opt.kermany_dir, opt.num_classes));
  if (!opt.nih_dir.empty()) append(scan, scan_nih(opt.nih_dir, opt.num_classes));
  const auto& cands = scan.candidates;
  const std::size_t n = cands.size();
  CXR_CHECK(n > 0, "data build: no images selected from the sources given");

  fs::create_directories(out.parent_path());
  StagingDir staging(out);
  const std::size_t image_bytes = static_cast<std::size_t>(opt.size) * opt.size;
  {
    // 2. Decode, hash and resize every candidate into its slot.
    SlotFile slots(staging.path() / "images.staging", image_bytes, n);
    std::vector<Processed> results(n);
    const int threads = static_cast<int>(std::min<std::size_t>(n, opt.threads > 0 ? opt.threads : num_threads()));
    std::vector<std::vector<std::uint8_t>> buffers(threads, std::vector<std::uint8_t>(image_bytes));
    run_workers(
        static_cast<std::int64_t>(n), threads,
        [&](std::int64_t i, int t) {
          results[i] = process(cands[i], opt, buffers[t].data());
          if (results[i].error.empty()) slots.write(static_cast<std::size_t>(i), buffers[t].data());
        },
        progress, "decoding");
    std::vector<bool> keep(n, false);
    for (std::size_t i = 0; i < n; ++i) {
      keep[i] = results[i].error.empty();
      if (!keep[i])
        scan.skipped.push_back({cands[i].source, cands[i].source_path, results[i].error, results[i].detail});
    }

    // 3. Duplicates, 4. split.
    stats.duplicates = remove_duplicates(scan, results, keep);
    std::vector<std::size_t> kept;
    for (std::size_t i = 0; i < n; ++i)
      if (keep[i]) kept.push_back(i);
    CXR_CHECK(!kept.empty(), "data build: none of the {} selected images could be used", n);
    const auto splits = split_kept(opt, scan, kept);
    std::vector<ManifestRow> rows;
    for (std::size_t k = 0; k < kept.size(); ++k) {
      const auto& c = cands[kept[k]];
      rows.push_back({static_cast<std::int64_t>(k), c.source, c.source_path, c.patient, c.label, splits[k], c.view,
                      results[kept[k]].file_sha256, c.age, c.age_group});
    }

    // 5. The files.
    train_pixel_stats(stats, rows, kept, slots, image_bytes);
    count_rows(stats, rows);
    stats.excluded = std::move(scan.excluded);
    stats.skipped = std::move(scan.skipped);
    write_dataset(
        staging.path(), rows,
        {rows.size(), opt.size, opt.num_classes, static_cast<float>(stats.pixel_mean),
         static_cast<float>(stats.pixel_std)},
        [&](std::size_t k) { return slots.read(kept[k]); }, stats_to_json(stats));
  }  // the staging slots are deleted here
  staging.commit(out, opt.overwrite);
  return stats;
}

}  // namespace

BuildStats build_dataset(const BuildOptions& opt, const ProgressFn& progress) {
  try {
    return build(opt, progress);
  } catch (const fs::filesystem_error& e) {  // unreadable folders, a full disk, a bad --out
    throw Error(fmt::format("data build: {}", e.what()));
  }
}

}  // namespace cxr::data
