# idlink H5 pages — security (en): the payment password and my devices. Keys here exist in every language (a test checks).

security-title = Payment password
security-intro = Your 6-digit payment password confirms sensitive actions, such as showing a card balance or changing your primary device.
security-set = Set a payment password
security-verify = Check my payment password
security-reset = Reset my payment password
security-back = Back to payment password
password-status-none = You have not set a payment password yet.
password-status-set = Your payment password is set and ready to use.
password-locked = Your payment password is locked after too many wrong tries. Reset it to use it again.
password-locked-since = Your payment password has been locked since { $time } after too many wrong tries. It stays locked until you reset it.
password-tries-left = { $count ->
    [one] You have 1 try left before it locks.
   *[other] You have { $count } tries left before it locks.
}
password-none-yet = You have not set a payment password yet.
password-done-set = Your payment password is set.
password-done-reset = Your payment password was reset. The new one works now.

pad-label = Payment password
pad-hint = 6 digits. It is never shown or stored as typed.
pad-hint-new = 6 digits, not one digit repeated and not a run such as 123456.
pad-hint-again = The same 6 digits again, to be sure.
set-new-label = New payment password
set-again-label = New payment password again

set-title = Set a payment password
set-intro = First we send a 6-digit code by SMS to your account's phone. Then you choose the password and enter it twice.
reset-title = Reset my payment password
reset-intro = Forgot your payment password, or locked out? Reset it with an SMS code to your account's phone plus one more check: a face check, or a bank card of your verified identity whose bank phone is your account's phone.
reset-needs-face-consent = A face check needs your consent to process your face first.
reset-needs-card-consent = A bank-card check needs your consent to process your bank cards and ID number first.
set-send-code = Send the code
set-code-sent = We sent a 6-digit code to your account's phone. It is valid for a few minutes.
set-new-code = Send a new code
set-code-used = This code was used by that try. Send a new code with the button below the form.
set-submit = Set the password
reset-submit = Reset the password
reset-proof-legend = Your second check
reset-proof-face = Face check
reset-liveness-label = Face capture
reset-liveness-hint = On this test service a choice stands in for the camera.
reset-proof-card = Bank card instead
reset-card-label = Bank card number
reset-card-hint = A card in your verified name; its bank phone must be your account's phone.
liveness-pass = A clear, live face (passes)
liveness-poor-lighting = Too dark
liveness-spoof = A photo of a face
liveness-mismatch = Someone else's face

field-password-mismatch = The two entries were different. Enter the new password in both boxes again.
field-card-number = Enter the card number as printed: 12 to 19 digits.
field-pad-six-digits = The payment password is 6 digits.

verify-title = Check my payment password
verify-intro = Enter your payment password to check you remember it. Wrong tries count towards the lock.
verify-submit = Check
verify-forgot = Forgot it? Reset it
verify-right = That is your payment password.

devices-title = My devices
devices-intro = The phones and browsers that have logged in to your account. Your primary device is the one you trust most.
devices-primary = Primary device
devices-this = This device
devices-added = Added
devices-last-used = Last used
devices-make-primary = Make this my primary device
devices-logout-all-title = Log out everywhere
devices-logout-all-hint = Ends every session of your account, on all devices, this one included. You log in again with an SMS code.
devices-logout-all = Log out on all devices
devices-back = Back to my devices
device-generic-browser = a browser
device-web = { $browser } (web)
device-web-iphone = { $browser } on iPhone (web)
device-web-ipad = { $browser } on iPad (web)
device-web-android = { $browser } on Android (web)
device-web-harmonyos = { $browser } on HarmonyOS (web)
device-web-windows = { $browser } on Windows (web)
device-web-mac = { $browser } on Mac (web)
primary-title = Change my primary device
primary-intro = Make “{ $device }” your primary device. Confirm with your payment password.
primary-submit = Make it primary
primary-needs-password = Changing the primary device needs your payment password. Set one first.
primary-done = “{ $device }” is your primary device now.

face-reason-poor_lighting = The face check did not pass: it was too dark. Retry in daylight or a well-lit room, without light behind you.
face-reason-liveness_failed = The face check did not pass: hold the phone yourself and face the camera; photos and screens are refused.
face-reason-face_mismatch = The face does not match your verified identity. Only you can reset your payment password.
face-reason-review = The face check needs a manual review. Try again later, or use a bank card instead.
card-reason-card_holder_mismatch = The bank says this card is not in your verified name. Use a card of your own.
card-reason-reserved_phone_mismatch = The bank has another phone for this card. Use a card whose bank phone is your account's phone, or the face check.
card-reason-card_reported_lost = The bank reports this card lost. Use another card, or the face check.

problem-payment_password_refused = That payment password was not accepted.
problem-weak_payment_password = Choose another password: 6 digits, not one digit repeated and not a run such as 123456.
problem-face_check_required = Your payment password is already set: resetting it needs a face check or a bank card too.
problem-device_not_found = That device is not in your list any more. Go back to your devices.
security-problem-face_check_failed = The face check did not pass. Try again.
security-problem-bank_card_check_failed = The bank did not confirm this card. Check the number, or use the face check.
security-problem-identity_not_verified = A bank card check needs your verified real-name identity. Verify it first, or use the face check.
security-problem-step_up_required = The confirmation expired. Enter your payment password again.
