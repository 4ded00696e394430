// Device and tensor exports: the happy paths, and every error path returning a status and a message.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "ft5/ft5.h"

namespace {

std::string last_error() { return ft5_last_error(); }

struct DeviceFixture : ::testing::Test {
    ft5_device* device = nullptr;
    void open(uint32_t num_ipus = 1, uint32_t tiles = 1472, uint64_t bytes_per_tile = 638976) {
        ft5_device_desc desc;
        ft5_device_desc_init(&desc);
        desc.num_ipus = num_ipus;
        desc.tiles_per_ipu = tiles;
        desc.bytes_per_tile = bytes_per_tile;
        ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK) << last_error();
    }
    void TearDown() override { ft5_device_destroy(device); }

    ft5_tensor_desc tensor_desc(const char* name, int64_t elements, uint32_t ipu = 0) {
        ft5_tensor_desc td;
        ft5_tensor_desc_init(&td);
        td.name = name;
        td.ipu = ipu;
        td.rank = 1;
        td.shape[0] = elements;
        return td;
    }
};

}  // namespace

TEST(LibraryAbi, VersionAndCapabilities) {
    EXPECT_EQ(ft5_abi_version() >> 16, uint32_t(FT5_ABI_VERSION_MAJOR));
    EXPECT_EQ(ft5_backend_available(FT5_BACKEND_EMULATOR), 1);
    EXPECT_EQ(ft5_backend_available(static_cast<ft5_backend>(42)), 0);
    EXPECT_EQ(ft5_abi_struct_size(FT5_STRUCT_DEVICE_DESC), sizeof(ft5_device_desc));
    EXPECT_EQ(ft5_abi_struct_size(static_cast<ft5_struct_id>(999)), 0u);
    EXPECT_STREQ(ft5_last_error(), "");
}

TEST(LibraryAbi, DescInitAcceptsNull) {
    ft5_device_desc_init(nullptr);
    ft5_tensor_desc_init(nullptr);
    ft5_model_desc_init(nullptr);
    ft5_plan_desc_init(nullptr);
    ft5_batch_init(nullptr);
    ft5_optimizer_step_init(nullptr);
    SUCCEED();
}

TEST_F(DeviceFixture, CreatesQueriesAndReportsADevice) {
    open(2);
    ft5_device_desc back;
    back.struct_size = sizeof(back);
    ASSERT_EQ(ft5_device_get_desc(device, &back), FT5_OK);
    EXPECT_EQ(back.num_ipus, 2u);
    EXPECT_EQ(back.tiles_per_ipu, 1472u);
    EXPECT_EQ(back.bytes_per_tile, 638976u);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    ASSERT_EQ(ft5_device_memory_report(device, 1, &report), FT5_OK);
    EXPECT_EQ(report.on_chip_capacity_bytes, 1472ull * 638976ull);
    EXPECT_EQ(report.on_chip_used_bytes, 0u);
}

TEST(DeviceAbi, CreateRejectsBadArguments) {
    ft5_device* device = nullptr;
    EXPECT_EQ(ft5_device_create(nullptr, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("desc"), std::string::npos);
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    EXPECT_EQ(ft5_device_create(&desc, nullptr), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("out_device"), std::string::npos);
    desc.num_ipus = 0;
    EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("num_ipus"), std::string::npos);
    ft5_device_desc_init(&desc);
    desc.struct_size = 0;
    EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("struct_size"), std::string::npos);
    ft5_device_desc_init(&desc);
    desc.tiles_per_ipu = 0;
    EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_INVALID_ARGUMENT);
    ft5_device_desc_init(&desc);
    desc.tiles_per_ipu = 1;
    desc.bytes_per_tile = uint64_t(1) << 32;  // fits 1 TiB per IPU, not the IPU model's 32-bit bytes per tile
    EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("bytes_per_tile is 4294967296; expected at most 4294967295"), std::string::npos)
        << last_error();
    ft5_device_desc_init(&desc);
    desc.backend = static_cast<ft5_backend>(7);
    EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(device, nullptr);
}

// The native tests build against the emulated SDK only (the SDK build's backends: SdkBuild.* in tests/CMakeLists).
TEST(DeviceAbi, TheEmulatorBuildHasTheEmulatorBackendAndNamesTheSdkBuildForTheOthers) {
    EXPECT_EQ(ft5_backend_available(FT5_BACKEND_EMULATOR), 1);
    for (const auto& [backend, name] : {std::pair{FT5_BACKEND_POPLAR, "poplar"}, std::pair{FT5_BACKEND_IPU_MODEL, "ipu-model"}}) {
        EXPECT_EQ(ft5_backend_available(backend), 0) << name;
        ft5_device_desc desc;
        ft5_device_desc_init(&desc);
        desc.backend = backend;
        ft5_device* device = nullptr;
        EXPECT_EQ(ft5_device_create(&desc, &device), FT5_ERR_BACKEND_UNAVAILABLE) << name;
        EXPECT_EQ(device, nullptr);
        EXPECT_NE(last_error().find(std::string("backend ") + name + " is not in this build"), std::string::npos)
            << last_error();
        EXPECT_NE(last_error().find("FT5_NATIVE_PATH"), std::string::npos) << last_error();
    }
}

TEST(DeviceAbi, OlderCallerDescriptorGetsDefaultsForMissingFields) {
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    desc.num_ipus = 3;
    desc.struct_size = offsetof(ft5_device_desc, tiles_per_ipu);  // a caller that knows only the first fields
    desc.tiles_per_ipu = 0;                                       // beyond its struct_size: must be ignored
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK) << last_error();
    ft5_device_desc back;
    back.struct_size = sizeof(back);
    ASSERT_EQ(ft5_device_get_desc(device, &back), FT5_OK);
    EXPECT_EQ(back.num_ipus, 3u);
    EXPECT_EQ(back.tiles_per_ipu, 1472u);
    ft5_device_destroy(device);
}

TEST(DeviceAbi, NullAndDestroyedHandlesAreReportedNotDereferenced) {
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK);
    ft5_device_destroy(device);
    ft5_device_destroy(device);  // double destroy: harmless
    ft5_device_destroy(nullptr);

    ft5_device_desc back;
    back.struct_size = sizeof(back);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    ft5_traffic_report traffic;
    traffic.struct_size = sizeof(traffic);
    for (ft5_device* d : {static_cast<ft5_device*>(nullptr), device}) {
        EXPECT_EQ(ft5_device_get_desc(d, &back), FT5_ERR_INVALID_HANDLE);
        EXPECT_NE(last_error().find("device"), std::string::npos);
        EXPECT_EQ(ft5_device_memory_report(d, 0, &report), FT5_ERR_INVALID_HANDLE);
        EXPECT_EQ(ft5_device_reset_peaks(d), FT5_ERR_INVALID_HANDLE);
        EXPECT_EQ(ft5_device_traffic_report(d, &traffic), FT5_ERR_INVALID_HANDLE);
        EXPECT_EQ(ft5_device_reset_traffic(d), FT5_ERR_INVALID_HANDLE);
        ft5_tensor_desc td;
        ft5_tensor_desc_init(&td);
        td.name = "x";
        ft5_tensor* t = nullptr;
        EXPECT_EQ(ft5_tensor_create(d, &td, &t), FT5_ERR_INVALID_HANDLE);
    }
}

TEST_F(DeviceFixture, WrongHandleKindIsRejected) {
    open();
    auto td = tensor_desc("t", 4);
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    EXPECT_EQ(ft5_device_memory_report(reinterpret_cast<ft5_device*>(t), 0, &report), FT5_ERR_INVALID_HANDLE);
    EXPECT_NE(last_error().find("ft5_tensor"), std::string::npos) << last_error();
    ft5_tensor_destroy(t);
}

TEST_F(DeviceFixture, OutOfRangeIpuAndNullOutputs) {
    open(2);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    EXPECT_EQ(ft5_device_memory_report(device, 2, &report), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("ipu 2"), std::string::npos) << last_error();
    EXPECT_EQ(ft5_device_memory_report(device, 0, nullptr), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_device_get_desc(device, nullptr), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_device_traffic_report(device, nullptr), FT5_ERR_INVALID_ARGUMENT);
    report.struct_size = 0;
    EXPECT_EQ(ft5_device_memory_report(device, 0, &report), FT5_ERR_INVALID_ARGUMENT);
    auto td = tensor_desc("far", 4, 5);
    ft5_tensor* t = nullptr;
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("ipu 5"), std::string::npos) << last_error();
    EXPECT_EQ(t, nullptr);
}

TEST_F(DeviceFixture, TensorRoundTripAndMemoryAccounting) {
    open();
    auto td = tensor_desc("weights", 6);
    td.rank = 2;
    td.shape[0] = 2;
    td.shape[1] = 3;
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK) << last_error();
    uint64_t bytes = 0;
    ASSERT_EQ(ft5_tensor_byte_size(t, &bytes), FT5_OK);
    EXPECT_EQ(bytes, 24u);
    const float in[6] = {1, 2, 3, 4, 5, 6};
    float out[6] = {};
    ASSERT_EQ(ft5_tensor_write(t, in, sizeof(in)), FT5_OK);
    ASSERT_EQ(ft5_tensor_read(t, out, sizeof(out)), FT5_OK);
    EXPECT_EQ(std::memcmp(in, out, sizeof(in)), 0);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    ASSERT_EQ(ft5_device_memory_report(device, 0, &report), FT5_OK);
    EXPECT_EQ(report.on_chip_used_bytes, 24u);
    EXPECT_EQ(report.live_tensors, 1u);
    ft5_tensor_destroy(t);
    ASSERT_EQ(ft5_device_memory_report(device, 0, &report), FT5_OK);
    EXPECT_EQ(report.on_chip_used_bytes, 0u);
    EXPECT_EQ(report.on_chip_peak_bytes, 24u);
    ASSERT_EQ(ft5_device_reset_peaks(device), FT5_OK);
    ASSERT_EQ(ft5_device_memory_report(device, 0, &report), FT5_OK);
    EXPECT_EQ(report.on_chip_peak_bytes, 0u);
}

TEST_F(DeviceFixture, StreamingTensorsUseTheStreamingPoolAndCountTraffic) {
    open();
    auto td = tensor_desc("remote", 256);
    td.location = FT5_MEMORY_STREAMING;
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK) << last_error();
    std::vector<float> data(256, 1.0f);
    ASSERT_EQ(ft5_tensor_write(t, data.data(), data.size() * 4), FT5_OK);
    ft5_memory_report report;
    report.struct_size = sizeof(report);
    ASSERT_EQ(ft5_device_memory_report(device, 0, &report), FT5_OK);
    EXPECT_EQ(report.on_chip_used_bytes, 0u);
    EXPECT_EQ(report.streaming_used_bytes, 1024u);
    ft5_traffic_report traffic;
    traffic.struct_size = sizeof(traffic);
    ASSERT_EQ(ft5_device_traffic_report(device, &traffic), FT5_OK);
    EXPECT_EQ(traffic.streaming_bytes, 1024u);
    ASSERT_EQ(ft5_device_reset_traffic(device), FT5_OK);
    ASSERT_EQ(ft5_device_traffic_report(device, &traffic), FT5_OK);
    EXPECT_EQ(traffic.streaming_bytes, 0u);
    ft5_tensor_destroy(t);
}

TEST_F(DeviceFixture, OutOfMemoryNamesIpuRequestedAndFreeBytesAndLeavesDeviceUsable) {
    open(2, 4, 1024);
    auto td = tensor_desc("big", 2048, 1);  // 8192 bytes > 4096
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_OUT_OF_MEMORY);
    const std::string msg = last_error();
    EXPECT_NE(msg.find("IPU 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'big'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("requested 8192"), std::string::npos) << msg;
    EXPECT_NE(msg.find("free 4096"), std::string::npos) << msg;
    EXPECT_EQ(t, nullptr);
    td.shape[0] = 1024;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK) << last_error();
    ft5_tensor_destroy(t);
}

TEST_F(DeviceFixture, TensorCreateRejectsBadDescriptors) {
    open();
    ft5_tensor* t = nullptr;
    auto td = tensor_desc("ok", 4);
    EXPECT_EQ(ft5_tensor_create(device, nullptr, &t), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_tensor_create(device, &td, nullptr), FT5_ERR_INVALID_ARGUMENT);
    td.name = nullptr;
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    td.name = "";
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    td = tensor_desc("neg", -1);
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("'neg'"), std::string::npos) << last_error();
    td = tensor_desc("rank", 1);
    td.rank = FT5_MAX_RANK + 1;
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    td = tensor_desc("dtype", 1);
    td.dtype = static_cast<ft5_dtype>(99);
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    td = tensor_desc("loc", 1);
    td.location = static_cast<ft5_memory_location>(9);
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    td = tensor_desc("huge", 1);
    td.rank = 3;
    td.shape[0] = td.shape[1] = td.shape[2] = int64_t(1) << 40;
    EXPECT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t, nullptr);
}

TEST_F(DeviceFixture, TensorIoRejectsWrongSizesNullDataAndDeadHandles) {
    open();
    auto td = tensor_desc("io", 4);
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK);
    float buf[4] = {};
    EXPECT_EQ(ft5_tensor_write(t, buf, 12), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("expected 16"), std::string::npos) << last_error();
    EXPECT_EQ(ft5_tensor_read(t, buf, 20), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_tensor_write(t, nullptr, 16), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_tensor_read(t, nullptr, 16), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ft5_tensor_byte_size(t, nullptr), FT5_ERR_INVALID_ARGUMENT);
    ft5_tensor_destroy(t);
    ft5_tensor_destroy(t);  // double destroy: harmless
    uint64_t bytes = 0;
    EXPECT_EQ(ft5_tensor_write(t, buf, 16), FT5_ERR_INVALID_HANDLE);
    EXPECT_EQ(ft5_tensor_read(t, buf, 16), FT5_ERR_INVALID_HANDLE);
    EXPECT_EQ(ft5_tensor_byte_size(t, &bytes), FT5_ERR_INVALID_HANDLE);
    EXPECT_EQ(ft5_tensor_byte_size(nullptr, &bytes), FT5_ERR_INVALID_HANDLE);
}

TEST(DeviceAbi, TensorKeepsItsDeviceAlive) {
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK);
    ft5_tensor_desc td;
    ft5_tensor_desc_init(&td);
    td.name = "survivor";
    td.rank = 1;
    td.shape[0] = 8;
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK);
    ft5_device_destroy(device);
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(ft5_tensor_write(t, data, sizeof(data)), FT5_OK) << last_error();
    ft5_tensor_destroy(t);
}

TEST(DeviceAbi, LastErrorIsClearedBySuccessfulCalls) {
    ft5_device* device = nullptr;
    EXPECT_EQ(ft5_device_create(nullptr, &device), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_STRNE(ft5_last_error(), "");
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK);
    EXPECT_STREQ(ft5_last_error(), "");
    ft5_device_destroy(device);
}
