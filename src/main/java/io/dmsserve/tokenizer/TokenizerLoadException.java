package io.dmsserve.tokenizer;

/** A tokenizer or tokenizer_config file is missing or malformed; the message names the file. */
public class TokenizerLoadException extends IllegalArgumentException {

    public TokenizerLoadException(String message) {
        super(message);
    }

    public TokenizerLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
