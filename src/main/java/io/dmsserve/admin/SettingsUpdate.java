package io.dmsserve.admin;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A change an admin asks for; null fields stay as they are (the JSON API's PUT is a partial update, the form
 * sends every field).
 */
record SettingsUpdate(Boolean evictionEnabled, Double threshold, List<Double> layerOffsets, Integer window,
        Integer maxRunning, Integer maxWaiting) {

    /**
     * From the settings form's text fields, with a message for each field that is not a number. An unticked
     * checkbox is absent from a form, so {@code evictionEnabled} is false unless it is there, when the form has
     * the DMS fields at all (a model without DMS settings shows the scheduler's only).
     */
    static SettingsUpdate fromForm(Map<String, String> form, Map<String, String> errors) {
        boolean dms = form.containsKey("threshold");
        return new SettingsUpdate(dms ? form.containsKey("evictionEnabled") : null, decimal(form, "threshold", errors),
                form.containsKey("layerOffsets") ? offsets(form.get("layerOffsets"), errors) : null, integer(form, "window", errors),
                integer(form, "maxRunning", errors), integer(form, "maxWaiting", errors));
    }

    private static Double decimal(Map<String, String> form, String field, Map<String, String> errors) {
        if (!form.containsKey(field)) {
            return null;
        }
        String text = form.getOrDefault(field, "").strip();
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            errors.put(field, "'" + text + "' is not a number");
            return null;
        }
    }

    private static Integer integer(Map<String, String> form, String field, Map<String, String> errors) {
        if (!form.containsKey(field)) {
            return null;
        }
        String text = form.getOrDefault(field, "").strip();
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            errors.put(field, "'" + text + "' is not a whole number");
            return null;
        }
    }

    /** "0, -0.5, 1" → [0, -0.5, 1]; empty → no offsets. */
    private static List<Double> offsets(String text, Map<String, String> errors) {
        if (text == null || text.isBlank()) {
            return List.of();
        }
        java.util.ArrayList<Double> out = new java.util.ArrayList<>();
        for (String part : text.split(",")) {
            try {
                out.add(Double.parseDouble(part.strip()));
            } catch (NumberFormatException e) {
                errors.put("layerOffsets", "'" + part.strip() + "' is not a number; write the offsets as numbers"
                        + " separated by commas, one per layer from layer 0");
                return null;
            }
        }
        return out;
    }

    static Map<String, String> newErrors() {
        return new LinkedHashMap<>();
    }
}
