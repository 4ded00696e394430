#include <gtest/gtest.h>

#include <string>

#include "ft5/ft5.h"

TEST(DeviceAbi, CreatesQueriesAndDestroysADevice) {
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    desc.num_ipus = 2;
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK) << ft5_last_error();
    ft5_device_desc back;
    back.struct_size = sizeof(back);
    ASSERT_EQ(ft5_device_get_desc(device, &back), FT5_OK);
    EXPECT_EQ(back.num_ipus, 2u);
    EXPECT_EQ(back.tiles_per_ipu, 1472u);
    ft5_device_destroy(device);
}

TEST(DeviceAbi, OutOfMemoryNamesIpuRequestedAndFreeBytesAndLeavesDeviceUsable) {
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    desc.tiles_per_ipu = 4;
    desc.bytes_per_tile = 1024;
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&desc, &device), FT5_OK);
    ft5_tensor_desc td;
    ft5_tensor_desc_init(&td);
    td.name = "big";
    td.rank = 1;
    td.shape[0] = 2048;  // 8192 bytes > 4096
    ft5_tensor* t = nullptr;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_ERR_OUT_OF_MEMORY);
    const std::string msg = ft5_last_error();
    EXPECT_NE(msg.find("IPU 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8192"), std::string::npos) << msg;
    EXPECT_NE(msg.find("free 4096"), std::string::npos) << msg;
    td.shape[0] = 512;
    ASSERT_EQ(ft5_tensor_create(device, &td, &t), FT5_OK) << ft5_last_error();
    ft5_tensor_destroy(t);
    ft5_device_destroy(device);
}
