package io.dmsserve.jinja;

/**
 * A template failed to parse or to render. {@link #line()} is the 1-based template line (0 when
 * unknown). {@link #raisedByTemplate()} is true when the template itself called
 * {@code raise_exception(msg)}; the message is then exactly the template's text, which is what a
 * client should see (Hugging Face turns it into a 400 for bad conversations).
 */
public class TemplateException extends RuntimeException {

    private final int line;
    private final boolean raisedByTemplate;

    TemplateException(String message, int line) {
        this(message, line, false, null);
    }

    TemplateException(String message, int line, boolean raisedByTemplate, Throwable cause) {
        super(raisedByTemplate || line <= 0 ? message : message + " (template line " + line + ")", cause);
        this.line = line;
        this.raisedByTemplate = raisedByTemplate;
    }

    public int line() {
        return line;
    }

    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }

    /** Message without the line suffix. */
    public String reason() {
        String m = getMessage();
        int i = raisedByTemplate || line <= 0 ? -1 : m.lastIndexOf(" (template line ");
        return i < 0 ? m : m.substring(0, i);
    }
}
