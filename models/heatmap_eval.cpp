#include "models/heatmap_eval.h"

#include "base/check.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <numeric>

namespace cxr {

namespace json = boost::json;

Tensor gaussian_blur(const Tensor& image, double sigma) {
  CXR_CHECK(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 1 && image.size(2) == image.size(3),
            "gaussian_blur: expected a [1, 1, S, S] image, got {}", image.str());
  CXR_CHECK(sigma > 0, "gaussian_blur: sigma {} must be positive", sigma);
  const int s = static_cast<int>(image.size(2));
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> kernel(2 * radius + 1);
  for (int k = -radius; k <= radius; ++k) kernel[k + radius] = std::exp(-0.5 * k * k / (sigma * sigma));
  const double total = std::accumulate(kernel.begin(), kernel.end(), 0.0);
  for (double& k : kernel) k /= total;

  const Tensor in = image.to(DType::F64).contiguous();
  const double* x = in.data<double>();
  std::vector<double> rows(static_cast<std::size_t>(s) * s);
  auto clamp = [s](int i) {
    return std::clamp(i, 0, s - 1);
  };
  for (int y = 0; y < s; ++y)
    for (int c = 0; c < s; ++c) {
      double acc = 0;
      for (int k = -radius; k <= radius; ++k) acc += kernel[k + radius] * x[y * s + clamp(c + k)];
      rows[y * s + c] = acc;
    }
  std::vector<double> result(rows.size());
  for (int y = 0; y < s; ++y)
    for (int c = 0; c < s; ++c) {
      double acc = 0;
      for (int k = -radius; k <= radius; ++k) acc += kernel[k + radius] * rows[clamp(y + k) * s + c];
      result[y * s + c] = acc;
    }
  return Tensor::from_vector(result, {1, 1, s, s}, image.dtype());
}

std::vector<std::int64_t> order_by_heat(const Tensor& map, Generator& gen) {
  const Tensor m = map.to(DType::F64).contiguous();
  const double* v = m.data<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(m.numel()));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  shuffle(order, gen);
  std::stable_sort(order.begin(), order.end(), [v](std::int64_t a, std::int64_t b) { return v[a] > v[b]; });
  return order;
}

double curve_auc(const std::vector<double>& scores) {
  CXR_CHECK(scores.size() >= 2, "curve_auc: {} points, need at least 2", scores.size());
  const double steps = static_cast<double>(scores.size() - 1);
  const double sum = std::accumulate(scores.begin(), scores.end(), 0.0);
  return (sum - (scores.front() + scores.back()) / 2) / steps;
}

DeletionInsertion deletion_insertion(const ScoreFn& score, const Tensor& image, const Tensor& baseline,
                                     const std::vector<std::int64_t>& order, int steps) {
  check_same_shape("deletion_insertion", image, baseline);
  CXR_CHECK(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 1,
            "deletion_insertion: expected a [1, 1, S, S] image, got {}", image.str());
  const std::int64_t n = image.size(2) * image.size(3);
  CXR_CHECK(static_cast<std::int64_t>(order.size()) == n, "deletion_insertion: an order of {} pixels for {}",
            order.size(), n);
  CXR_CHECK(steps >= 1 && steps <= n, "deletion_insertion: {} steps for {} pixels", steps, n);
  const std::int64_t per_step = (n + steps - 1) / steps;

  // Both curves in one batch: 2 (steps + 1) images.
  const std::int64_t points = steps + 1;
  Tensor batch = Tensor::empty({2 * points, 1, image.size(2), image.size(3)}, DType::F32);
  const Tensor img = image.to(DType::F32).contiguous(), base = baseline.to(DType::F32).contiguous();
  float* b = batch.data<float>();
  const float* x = img.data<float>();
  const float* z = base.data<float>();
  for (std::int64_t p = 0; p < points; ++p) {
    float* del = b + p * n;
    float* ins = b + (points + p) * n;
    std::copy(x, x + n, del);
    std::copy(z, z + n, ins);
    const std::int64_t changed = std::min(n, p * per_step);
    for (std::int64_t i = 0; i < changed; ++i) {
      const std::int64_t px = order[i];
      del[px] = z[px];
      ins[px] = x[px];
    }
  }
  const std::vector<double> s = score(batch);
  CXR_CHECK(static_cast<std::int64_t>(s.size()) == 2 * points, "deletion_insertion: {} scores for {} images", s.size(),
            2 * points);
  DeletionInsertion r;
  r.deletion.scores.assign(s.begin(), s.begin() + points);
  r.insertion.scores.assign(s.begin() + points, s.end());
  r.deletion.auc = curve_auc(r.deletion.scores);
  r.insertion.auc = curve_auc(r.insertion.scores);
  return r;
}

std::map<std::string, AnnotatedImage> read_coco_boxes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), "lung boxes: cannot open '{}'", path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  CXR_CHECK(!ec, "lung boxes: '{}' is not JSON: {}", path, ec.message());
  auto field = [&](const json::object& o, const char* key, const char* what) -> const json::value& {
    const json::value* v = o.if_contains(key);
    CXR_CHECK(v != nullptr, "lung boxes: '{}': {} without \"{}\"", path, what, key);
    return *v;
  };
  auto number = [&](const json::value& v, const char* what) {
    CXR_CHECK(v.is_number(), "lung boxes: '{}': {} is not a number", path, what);
    return v.to_number<double>();
  };
  CXR_CHECK(doc.is_object(), "lung boxes: '{}' is not a JSON object", path);
  const json::value& images = field(doc.as_object(), "images", "the file");
  const json::value& annotations = field(doc.as_object(), "annotations", "the file");
  CXR_CHECK(images.is_array() && annotations.is_array(), "lung boxes: '{}': images and annotations must be arrays",
            path);

  std::map<std::int64_t, std::string> name_of;
  std::map<std::string, AnnotatedImage> annotated;
  for (const json::value& v : images.as_array()) {
    CXR_CHECK(v.is_object(), "lung boxes: '{}': an image entry is not an object", path);
    const json::object& o = v.as_object();
    const json::value& name = field(o, "file_name", "an image");
    CXR_CHECK(name.is_string(), "lung boxes: '{}': file_name is not a string", path);
    AnnotatedImage a;
    a.width = static_cast<int>(number(field(o, "width", "an image"), "width"));
    a.height = static_cast<int>(number(field(o, "height", "an image"), "height"));
    CXR_CHECK(a.width > 0 && a.height > 0, "lung boxes: '{}': {} is {}x{}", path, name.as_string().c_str(), a.width,
              a.height);
    name_of[static_cast<std::int64_t>(number(field(o, "id", "an image"), "id"))] = name.as_string().c_str();
    annotated[name.as_string().c_str()] = a;
  }
  for (const json::value& v : annotations.as_array()) {
    CXR_CHECK(v.is_object(), "lung boxes: '{}': an annotation is not an object", path);
    const json::object& o = v.as_object();
    const auto id = static_cast<std::int64_t>(number(field(o, "image_id", "an annotation"), "image_id"));
    const auto it = name_of.find(id);
    CXR_CHECK(it != name_of.end(), "lung boxes: '{}': an annotation refers to image {}, which is not listed", path, id);
    const json::value& bbox = field(o, "bbox", "an annotation");
    CXR_CHECK(bbox.is_array() && bbox.as_array().size() == 4, "lung boxes: '{}': bbox is not [x, y, w, h]", path);
    const auto& a = bbox.as_array();
    if (std::all_of(a.begin(), a.end(), [](const json::value& c) { return c.is_null(); })) continue;
    const double x = number(a[0], "bbox x"), y = number(a[1], "bbox y");
    const double w = number(a[2], "bbox width"), h = number(a[3], "bbox height");
    CXR_CHECK(w >= 0 && h >= 0, "lung boxes: '{}': a box of {} x {}", path, w, h);
    annotated[it->second].boxes.push_back({x, y, x + w, y + h});
  }
  std::map<std::string, AnnotatedImage> out;
  for (auto& [name, a] : annotated)
    if (!a.boxes.empty()) out.emplace(name, std::move(a));
  return out;
}

std::vector<Box> boxes_on_square(const AnnotatedImage& annotated, int decoded_w, int decoded_h,
                                 const data::FitGeometry& g) {
  const double sx = static_cast<double>(decoded_w) / annotated.width;
  const double sy = static_cast<double>(decoded_h) / annotated.height;
  std::vector<Box> out;
  for (const Box& b : annotated.boxes)
    out.push_back(
        {g.to_square_x(b.x0 * sx), g.to_square_y(b.y0 * sy), g.to_square_x(b.x1 * sx), g.to_square_y(b.y1 * sy)});
  return out;
}

std::vector<std::uint8_t> box_mask(int size, const std::vector<Box>& boxes) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(size) * size, 0);
  for (const Box& b : boxes)
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        if (x + 0.5 >= b.x0 && x + 0.5 <= b.x1 && y + 0.5 >= b.y0 && y + 0.5 <= b.y1) mask[y * size + x] = 1;
  return mask;
}

namespace {

const double* map_values(const Tensor& m, const std::vector<std::uint8_t>& mask, const char* op) {
  CXR_CHECK(m.numel() == static_cast<std::int64_t>(mask.size()), "{}: a map of {} for a mask of {} pixels", op, m.str(),
            mask.size());
  return m.data<double>();
}

}  // namespace

double energy_inside(const Tensor& map, const std::vector<std::uint8_t>& mask) {
  const Tensor m = map.to(DType::F64).contiguous();
  const double* v = map_values(m, mask, "energy_inside");
  double inside = 0, total = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    total += v[i];
    if (mask[i]) inside += v[i];
  }
  return total > 0 ? inside / total : 0.0;
}

bool pointing_hit(const Tensor& map, const std::vector<std::uint8_t>& mask) {
  const Tensor m = map.to(DType::F64).contiguous();
  const double* v = map_values(m, mask, "pointing_hit");
  const auto peak = std::max_element(v, v + mask.size()) - v;
  return v[peak] > 0 && mask[peak] != 0;
}

double mask_share(const std::vector<std::uint8_t>& mask) {
  if (mask.empty()) return 0.0;
  return static_cast<double>(std::count(mask.begin(), mask.end(), 1)) / static_cast<double>(mask.size());
}

}  // namespace cxr
