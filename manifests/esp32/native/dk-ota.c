/*
 * Dosekeeper: ESP-IDF app rollback (esp_ota_ops.h) for firmware/platform/firmware-slots.
 * Needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (manifests/esp32/sdkconfig/sdkconfig.defaults)
 * and the two OTA slots of manifests/esp32/sdkconfig/partitions.csv. docs/ota.md.
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_ota_ops.h"
#include "esp_system.h"

void xs_dk_ota_pending_verify(xsMachine *the)
{
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();
	if ((NULL == running) || (ESP_OK != esp_ota_get_state_partition(running, &state)))
		xsmcSetInteger(xsResult, -1);
	else
		xsmcSetInteger(xsResult, (ESP_OTA_IMG_PENDING_VERIFY == state) ? 1 : 0);
}

void xs_dk_ota_mark_valid(xsMachine *the)
{
	if (ESP_OK != esp_ota_mark_app_valid_cancel_rollback())
		xsUnknownError("OTA_ACCEPT");
}

void xs_dk_ota_rollback(xsMachine *the)
{
	esp_ota_mark_app_invalid_rollback_and_reboot();
	xsUnknownError("OTA_NO_PREVIOUS");
}

void xs_dk_ota_slot_bytes(xsMachine *the)
{
	const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
	xsmcSetInteger(xsResult, (NULL == next) ? 0 : (xsIntegerValue)next->size);
}

void xs_dk_restart(xsMachine *the)
{
	esp_restart();
}
